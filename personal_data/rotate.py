"""Key rotation: re-seal every sealed value with the first key of PERSONAL_DATA_KEYS.

ID numbers and dates of birth (requests, citizens) and the numbers of queued messages in
the SQL message log (sms_messages.sealed_phone). Put the new key first in PERSONAL_DATA_KEYS
(old keys after it), restart, run `python -m gateway personal-data rotate`, then remove the
old keys. Rows written before encryption (plain values) are sealed on the way, and numbers
the log sealed with its former OTP_KEY derived key too. Idempotent: run it again after an
interruption.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from civic import sql as civic
from civic.cipher import SEALED_VALIDATORS, open_dossier, seal_dossier
from runtime.sealing import Sealer
from sms import tables as sms_tables


def rotate(engine: Engine, cipher: Sealer) -> dict[str, int]:
    """Re-seal requests' ID numbers and sealed dossier fields, citizens' ID numbers, the
    numbers of queued messages; count the numbers no configured key opens."""
    resealed, unreadable = _rotate_messages(engine, cipher)
    counts = {"requests": 0, "citizens": 0, "messages": resealed}
    # A city whose portal holds requests (CIVIC_BACKEND=http) has no civic tables here.
    if sa.inspect(engine).has_table(civic.requests.name):
        counts["requests"] = _rotate_requests(engine, cipher, _sealed_keys(engine))
        counts["citizens"] = _rotate_citizens(engine, cipher)
    if unreadable:
        counts["messages left unreadable"] = unreadable  # their keys are gone already
    return counts


def sealed_keys_of(raw_fields: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """Return the sealed keys of a document type's stored `fields` JSON."""
    return frozenset(str(f["key"]) for f in raw_fields if f.get("validator") in SEALED_VALIDATORS)


def _sealed_keys(engine: Engine) -> dict[str, frozenset[str]]:
    t = civic.document_types
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.code, t.c.fields)).all()
    return {row.code: sealed_keys_of(row.fields or []) for row in rows}


def _rotate_requests(engine: Engine, cipher: Sealer, sealed: Mapping[str, frozenset[str]]) -> int:
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
            opened = open_dossier(cipher, dossier)
            values = {
                "id_number": cipher.reseal(row.id_number),
                "dossier": seal_dossier(cipher, opened, keys) if row.dossier is not None else None,
            }
            conn.execute(t.update().where(t.c.reference == row.reference).values(values))
            changed += 1
    return changed


def _rotate_citizens(engine: Engine, cipher: Sealer) -> int:
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


def _rotate_messages(engine: Engine, cipher: Sealer) -> tuple[int, int]:
    t = sms_tables.messages
    if not sa.inspect(engine).has_table(t.name):
        return 0, 0  # the message log creates its tables at its first write
    resealed = unreadable = 0
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(t.c.id, t.c.sealed_phone).where(t.c.sealed_phone.is_not(None))
        ).all()
        for row in rows:
            # Open then seal: a number the log sealed with its former key is a bare token.
            phone = cipher.unseal(row.sealed_phone)
            if phone is None:
                unreadable += 1
                continue
            # Only if unchanged: a message that left the queue meanwhile stays erased.
            conn.execute(
                t.update()
                .where(t.c.id == row.id, t.c.sealed_phone == row.sealed_phone)
                .values(sealed_phone=cipher.seal(phone))
            )
            resealed += 1
    return resealed, unreadable
