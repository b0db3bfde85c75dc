"""What a person must look at (an unmatched callback, a settlement the back office refused):
recorded once per dedupe key and never credited automatically."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from payments.tables import refunds, reviews, utcnow


@dataclass(frozen=True, slots=True)
class Review:
    """A callback or settlement a person must look at; never credited automatically."""

    id: int
    provider: str
    reason: str
    detail: str
    callback_id: int | None
    intent_id: str | None


@dataclass(frozen=True, slots=True)
class Refund:
    """A supervisor marked a review's money as given back."""

    review_id: int
    intent_id: str | None
    note: str
    marked_by: str
    marked_at: datetime


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

    def get_review(self, review_id: int) -> Review | None:
        """Return one review record."""
        with self._engine.connect() as conn:
            r = conn.execute(select(reviews).where(reviews.c.id == review_id)).first()
        return (
            Review(r.id, r.provider, r.reason, r.detail, r.callback_id, r.intent_id) if r else None
        )

    def mark_refunded(self, review_id: int, *, note: str, marked_by: str) -> bool:
        """Record that a review's money was given back; False when it was already marked."""
        review = self.get_review(review_id)
        if review is None:
            raise LookupError(f"no review {review_id}")
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(refunds).values(
                        review_id=review_id,
                        intent_id=review.intent_id,
                        note=note[:1000],
                        marked_by=marked_by[:64],
                        marked_at=utcnow(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def refunds(self) -> dict[int, Refund]:
        """Return every refund mark, by review id."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(refunds)).all()
        return {
            r.review_id: Refund(r.review_id, r.intent_id, r.note, r.marked_by, r.marked_at)
            for r in rows
        }
