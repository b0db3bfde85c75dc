"""Key rotation: re-seal every sealed value (ID numbers, dates of birth) with the first key.

Put the new key first in PERSONAL_DATA_KEYS (old keys after it), restart, run `python -m
gateway personal-data rotate`, then remove the old keys. Rows written before encryption
(plain values) are sealed on the way. Idempotent: run it again after an interruption.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from civic import sql as civic
from civic.cipher import SEALED_VALIDATORS, FieldCipher


def rotate(engine: Engine, cipher: FieldCipher) -> dict[str, int]:
    """Re-seal requests' ID numbers and sealed dossier fields, citizens' ID numbers."""
    return {
        "requests": _rotate_requests(engine, cipher, _sealed_keys(engine)),
        "citizens": _rotate_citizens(engine, cipher),
    }


def sealed_keys_of(raw_fields: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """Return the sealed keys of a document type's stored `fields` JSON."""
    return frozenset(str(f["key"]) for f in raw_fields if f.get("validator") in SEALED_VALIDATORS)


def _sealed_keys(engine: Engine) -> dict[str, frozenset[str]]:
    t = civic.document_types
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.code, t.c.fields)).all()
    return {row.code: sealed_keys_of(row.fields or []) for row in rows}


def _rotate_requests(
    engine: Engine, cipher: FieldCipher, sealed: Mapping[str, frozenset[str]]
) -> int:
    t = civic.requests
    changed = 0
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(t.c.reference, t.c.document_code, t.c.id_number, t.c.dossier)
        ).all()
        for row in rows:
            dossier = dict(row.dossier or {})
            keys = sealed.get(row.document_code, frozenset())
            # Open then seal with the first key: a plain legacy value is sealed on the way.
            opened = cipher.open_dossier(dossier)
            values = {
                "id_number": cipher.reseal(row.id_number),
                "dossier": cipher.seal_dossier(opened, keys) if row.dossier is not None else None,
            }
            conn.execute(t.update().where(t.c.reference == row.reference).values(values))
            changed += 1
    return changed


def _rotate_citizens(engine: Engine, cipher: FieldCipher) -> int:
    t = civic.citizens
    changed = 0
    with engine.begin() as conn:
        rows = conn.execute(sa.select(t.c.phone, t.c.id_number).where(t.c.id_number.is_not(None)))
        for row in rows.all():
            conn.execute(
                t.update()
                .where(t.c.phone == row.phone)
                .values(id_number=cipher.reseal(row.id_number))
            )
            changed += 1
    return changed
