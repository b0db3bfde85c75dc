"""What a person must look at (an unmatched callback, a settlement the back office refused):
recorded once per dedupe key and never credited automatically."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from payments.tables import reviews, utcnow


@dataclass(frozen=True, slots=True)
class Review:
    """A callback or settlement a person must look at; never credited automatically."""

    id: int
    provider: str
    reason: str
    detail: str
    callback_id: int | None
    intent_id: str | None


class ReviewStore:
    """Review records (payment_reviews)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_review(
        self,
        *,
        dedupe_key: str,
        provider: str,
        reason: str,
        detail: str,
        callback_id: int | None = None,
        intent_id: str | None = None,
    ) -> bool:
        """Record something for a person to review; False when it was already recorded."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(reviews).values(
                        dedupe_key=dedupe_key,
                        provider=provider,
                        reason=reason,
                        detail=detail[:2000],
                        callback_id=callback_id,
                        intent_id=intent_id,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def list_reviews(self) -> list[Review]:
        """Return every review record, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(reviews).order_by(reviews.c.id)).all()
        return [
            Review(r.id, r.provider, r.reason, r.detail, r.callback_id, r.intent_id) for r in rows
        ]
