"""Encryption at rest of single personal values: ID numbers, dates of birth, queued numbers.

One cipher for the whole gateway: `cryptography`'s MultiFernet (AES-128-CBC + HMAC-SHA256,
versioned tokens; a maintained library rather than hand-rolled crypto) with the keys of the
PERSONAL_DATA_KEYS setting, newest first: values are sealed with the first key and opened
with any. Rotation: put a new key first, keep the old ones, run `python -m gateway
personal-data rotate` (re-seals every value with the first key), then drop the old keys.

A sealed value is `enc1:` + the Fernet token, so a plain value written before encryption
still reads. `retired` keys only open: the SMS message log sealed numbers with an OTP_KEY
derived key before it used this cipher (sms.derived_keys), and `rotate` re-seals those too.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX: Final = "enc1:"
UNREADABLE: Final = "[unreadable: key missing from PERSONAL_DATA_KEYS]"
# Development only (production refuses to start without PERSONAL_DATA_KEYS: gateway/golive).
DEVELOPMENT_KEY: Final = base64.urlsafe_b64encode(
    hashlib.sha256(b"guichet-development-personal-data-key").digest()
).decode()


class CipherKeyError(ValueError):
    """A PERSONAL_DATA_KEYS entry is not a Fernet key."""


class Sealer:
    """Seal and open single values with MultiFernet (first key seals, any key opens)."""

    def __init__(self, keys: Sequence[str], *, retired: Sequence[bytes] = ()) -> None:
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
        # Last, so they never seal: MultiFernet encrypts with its first key only.
        fernets += [Fernet(key) for key in retired]
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_setting(cls, raw: str, *, retired: Sequence[bytes] = ()) -> Sealer:
        """Build from the comma-separated setting; the development key when it is empty."""
        keys = [k.strip() for k in raw.split(",") if k.strip()]
        return cls(keys or [DEVELOPMENT_KEY], retired=retired)

    def seal(self, value: str | None) -> str | None:
        """Return `value` encrypted (None and "" stay as they are; a sealed value is kept)."""
        if not value or is_sealed(value):
            return value
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        """Return the clear value of a sealed one (a plain legacy value is returned as is)."""
        if not value or not is_sealed(value):
            return value
        # No configured key opens it: say so instead of failing the whole request.
        return self.unseal(value) or UNREADABLE

    def unseal(self, token: str) -> str | None:
        """Return the clear value of a sealed value or bare Fernet token; None if none opens it."""
        raw = token.removeprefix(PREFIX)
        try:
            return self._fernet.decrypt(raw.encode()).decode()
        except InvalidToken:
            return None

    def reseal(self, value: str | None) -> str | None:
        """Return `value` sealed with the first key (what `rotate` writes back)."""
        if not value:
            return value
        if not is_sealed(value):
            return self.seal(value)
        token = value[len(PREFIX) :].encode()
        return PREFIX + self._fernet.rotate(token).decode()


def is_sealed(value: str) -> bool:
    """Say whether a stored value is a sealed one."""
    return value.startswith(PREFIX)
