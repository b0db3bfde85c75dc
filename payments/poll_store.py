"""When reconciliation next asks a provider about an intent it could not settle, and how often
it asked: pending, ambiguous or provider-down intents back off instead of being polled hot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from payments.tables import polls, utcnow


class PollStore:
    """Reconciliation's schedule of provider checks (payment_polls)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def schedule_check(self, intent_id: str, at: datetime, *, count: bool = True) -> int:
        """Set when reconciliation next asks about an intent; return the checks counted so far."""
        now = utcnow()
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(polls).values(
                        intent_id=intent_id, checks=int(count), next_check_at=at, updated_at=now
                    )
                )
            return int(count)
        except IntegrityError:  # scheduled before: count one more check
            pass
        with self._engine.begin() as conn:
            conn.execute(
                update(polls)
                .where(polls.c.intent_id == intent_id)
                .values(checks=polls.c.checks + int(count), next_check_at=at, updated_at=now)
            )
            return int(
                conn.execute(
                    select(polls.c.checks).where(polls.c.intent_id == intent_id)
                ).scalar_one()
            )

    def checks(self, intent_id: str) -> int:
        """Return how many inconclusive checks reconciliation made of an intent."""
        with self._engine.connect() as conn:
            found = conn.execute(
                select(polls.c.checks).where(polls.c.intent_id == intent_id)
            ).scalar()
        return int(found or 0)
