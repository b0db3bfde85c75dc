"""Which dossier values are sealed at rest, and how an agent sees them without opening them.

The cipher itself is runtime.sealing.Sealer (one for the gateway, keys PERSONAL_DATA_KEYS);
this module only knows the document side: which fields of a document type are sealed (ID
numbers, dates of birth), sealing and opening a dossier, masking a value for list views.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from civic.ports import DocumentType
from runtime.sealing import Sealer

# Dossier fields whose values are sealed: what identifies a person beyond their name.
SEALED_VALIDATORS: Final = frozenset({"id_number", "past_date"})
_MASK: Final = "•"


def sealed_fields(document: DocumentType | None) -> frozenset[str]:
    """Return the dossier keys of `document` whose values are sealed at rest and masked."""
    if document is None:
        return frozenset()
    return frozenset(f.key for f in document.fields if f.validator in SEALED_VALIDATORS)


def seal_dossier(
    sealer: Sealer, dossier: Mapping[str, str], sealed_keys: Iterable[str]
) -> dict[str, str]:
    """Return the dossier with the values of `sealed_keys` encrypted."""
    keys = set(sealed_keys)
    return {k: (sealer.seal(v) or "") if k in keys else v for k, v in dossier.items()}


def open_dossier(sealer: Sealer, dossier: Mapping[str, str]) -> dict[str, str]:
    """Return the dossier with every sealed value opened."""
    return {k: sealer.open(v) or "" for k, v in dossier.items()}


def mask_value(value: str | None) -> str | None:
    """Mask an ID number or date for list views: `AB123456` -> `••••••56`."""
    if not value:
        return value
    keep = 2 if len(value) > 4 else 0
    return _MASK * (len(value) - keep) + value[len(value) - keep :]
