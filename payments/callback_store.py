"""Providers' callbacks exactly as received, stored once per body before anything reads them,
so a callback is never lost and a provider retrying the same body for hours makes one job."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from payments.tables import callbacks, utcnow


@dataclass(frozen=True, slots=True)
class StoredCallback:
    """A provider's callback exactly as received."""

    id: int
    provider: str
    intent_hint: str | None
    body: str
    processed_at: datetime | None


class CallbackStore:
    """Raw callbacks (payment_callbacks): every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record_callback(
        self, provider: str, body: str, intent_hint: str | None
    ) -> tuple[int, bool]:
        """Persist a raw callback; return (id, True) or (the earlier id, False) for a repeat."""
        digest = hashlib.sha256(body.encode()).hexdigest()
        where = (
            callbacks.c.provider == provider,
            callbacks.c.digest == digest,
            callbacks.c.intent_hint.is_(None)
            if intent_hint is None
            else callbacks.c.intent_hint == intent_hint,
        )
        with self._engine.begin() as conn:
            found = conn.execute(select(callbacks.c.id).where(*where)).scalar()
            if found is not None:
                return int(found), False
        try:
            with self._engine.begin() as conn:
                result = conn.execute(
                    insert(callbacks).values(
                        provider=provider,
                        digest=digest,
                        intent_hint=intent_hint,
                        body=body,
                        received_at=utcnow(),
                    )
                )
                pk = result.inserted_primary_key
                assert pk is not None
                return int(pk[0]), True
        except IntegrityError:  # the same body raced in from another web process
            with self._engine.connect() as conn:
                return int(conn.execute(select(callbacks.c.id).where(*where)).scalar_one()), False

    def get_callback(self, callback_id: int) -> StoredCallback | None:
        """Return a stored callback."""
        with self._engine.connect() as conn:
            row = conn.execute(select(callbacks).where(callbacks.c.id == callback_id)).first()
        if row is None:
            return None
        return StoredCallback(row.id, row.provider, row.intent_hint, row.body, row.processed_at)

    def mark_callback_processed(self, callback_id: int, outcome: str) -> None:
        """Remember what processing a callback did."""
        with self._engine.begin() as conn:
            conn.execute(
                update(callbacks)
                .where(callbacks.c.id == callback_id)
                .values(processed_at=utcnow(), outcome=outcome[:64])
            )
