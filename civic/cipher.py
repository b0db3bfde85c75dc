"""Encryption at rest of the identity values a request carries: ID numbers, dates of birth.

`cryptography`'s MultiFernet (AES-128-CBC + HMAC-SHA256, versioned tokens) with the keys of
the PERSONAL_DATA_KEYS setting, newest first: values are sealed with the first key and opened
with any. Rotation: put a new key first, keep the old ones, run `python -m gateway
personal-data rotate` (re-seals every value with the first key), then drop the old keys.

A sealed value is `enc1:` + the Fernet token, so a row written before encryption (plain text)
still reads, and `rotate` seals it. Masking for list views lives here too: what an agent sees
of a sealed value without opening the dossier.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from civic.ports import DocumentType

PREFIX: Final = "enc1:"
# Dossier fields whose values are sealed: what identifies a person beyond their name.
SEALED_VALIDATORS: Final = frozenset({"id_number", "past_date"})
_MASK: Final = "•"
# Development only (production refuses to start without PERSONAL_DATA_KEYS: gateway/golive).
DEVELOPMENT_KEY: Final = base64.urlsafe_b64encode(
    hashlib.sha256(b"guichet-development-personal-data-key").digest()
).decode()


class CipherKeyError(ValueError):
    """A PERSONAL_DATA_KEYS entry is not a Fernet key."""


class FieldCipher:
    """Seal and open single values with MultiFernet (first key seals, any key opens)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise CipherKeyError("at least one key is needed")
        fernets: list[Fernet] = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode()))
            except ValueError:
                raise CipherKeyError(
                    f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes: "
                    "`python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`)"
                ) from None
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_setting(cls, raw: str) -> FieldCipher:
        """Build from the comma-separated setting; the development key when it is empty."""
        keys = [k.strip() for k in raw.split(",") if k.strip()]
        return cls(keys or [DEVELOPMENT_KEY])

    def seal(self, value: str | None) -> str | None:
        """Return `value` encrypted (None and "" stay as they are; a sealed value is kept)."""
        if not value or is_sealed(value):
            return value
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        """Return the clear value of a sealed one (a plain legacy value is returned as is)."""
        if not value or not is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            # No configured key opens it: say so instead of failing the whole request.
            return "[unreadable: key missing from PERSONAL_DATA_KEYS]"

    def reseal(self, value: str | None) -> str | None:
        """Return `value` sealed with the first key (what `rotate` writes back)."""
        if not value:
            return value
        if not is_sealed(value):
            return self.seal(value)
        token = value[len(PREFIX) :].encode()
        return PREFIX + self._fernet.rotate(token).decode()

    def seal_dossier(
        self, dossier: Mapping[str, str], sealed_keys: Iterable[str]
    ) -> dict[str, str]:
        """Return the dossier with the values of `sealed_keys` encrypted."""
        keys = set(sealed_keys)
        return {k: (self.seal(v) or "") if k in keys else v for k, v in dossier.items()}

    def open_dossier(self, dossier: Mapping[str, str]) -> dict[str, str]:
        """Return the dossier with every sealed value opened."""
        return {k: self.open(v) or "" for k, v in dossier.items()}

    def reseal_dossier(self, dossier: Mapping[str, str]) -> dict[str, str]:
        """Return the dossier with every sealed value re-sealed under the first key."""
        return {k: (self.reseal(v) or "") if is_sealed(v) else v for k, v in dossier.items()}


def is_sealed(value: str) -> bool:
    """Say whether a stored value is a sealed one."""
    return value.startswith(PREFIX)


def sealed_fields(document: DocumentType | None) -> frozenset[str]:
    """Return the dossier keys of `document` whose values are sealed at rest and masked."""
    if document is None:
        return frozenset()
    return frozenset(f.key for f in document.fields if f.validator in SEALED_VALIDATORS)


def mask_value(value: str | None) -> str | None:
    """Mask an ID number or date for list views: `AB123456` -> `••••••56`."""
    if not value:
        return value
    keep = 2 if len(value) > 4 else 0
    return _MASK * (len(value) - keep) + value[len(value) - keep :]
