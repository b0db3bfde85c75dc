"""STOP and language per phone in SQL (sms_preferences), keyed by a keyed hash of the number.

The durable half of sms.preferences: Redis caches it, this table is what a phone asked for
even after Redis came back empty (a citizen who sent STOP gets no broadcast, ever).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from sms.tables import create_tables, preferences, utcnow


@dataclass(frozen=True, slots=True)
class Stored:
    """What the table says of one phone."""

    opted_out: bool = False
    lang: str | None = None


class PreferenceStore:
    """Read and upsert rows of sms_preferences."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ready = False

    def _migrate(self) -> None:
        if not self._ready:
            create_tables(self._engine)
            self._ready = True

    def get(self, ref: str) -> Stored:
        """Return the phone's preferences (defaults when it never asked for anything)."""
        self._migrate()
        with self._engine.connect() as conn:
            row = conn.execute(
                select(preferences.c.opted_out, preferences.c.lang).where(
                    preferences.c.phone_ref == ref
                )
            ).first()
        return Stored() if row is None else Stored(bool(row.opted_out), row.lang)

    def set_opted_out(self, ref: str, opted_out: bool) -> None:
        """Record STOP (True) or START (False)."""
        self._upsert(ref, opted_out=int(opted_out))

    def set_language(self, ref: str, lang: str) -> None:
        """Record the phone's language."""
        self._upsert(ref, lang=lang)

    def _upsert(self, ref: str, **values: int | str) -> None:
        # UPDATE, else INSERT; a concurrent INSERT of the same ref turns into the UPDATE.
        self._migrate()
        now = utcnow()
        for _ in range(2):
            with self._engine.begin() as conn:
                updated = conn.execute(
                    preferences.update()
                    .where(preferences.c.phone_ref == ref)
                    .values(updated_at=now, **values)
                )
                if updated.rowcount:
                    return
                try:
                    with conn.begin_nested():
                        conn.execute(
                            preferences.insert().values(phone_ref=ref, updated_at=now, **values)
                        )
                    return
                except IntegrityError:
                    continue
