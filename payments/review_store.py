"""What a person must look at (an unmatched callback, a settlement the back office refused):
recorded once per dedupe key and never credited automatically."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from payments.tables import review_actions, reviews, utcnow


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
class ReviewAction:
    """What a person did about a review, with their note."""

    review_id: int
    action: str
    note: str
    staff: str
    at: datetime


class UnknownReviewError(LookupError):
    """No review has this id."""


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

    def record_action(self, review_id: int, *, action: str, note: str, staff: str) -> None:
        """Append what `staff` did about review `review_id` (e.g. refunded), with a note."""
        with self._engine.begin() as conn:
            found = conn.execute(select(reviews.c.id).where(reviews.c.id == review_id)).first()
            if found is None:
                raise UnknownReviewError(review_id)
            conn.execute(
                insert(review_actions).values(
                    review_id=review_id,
                    action=action,
                    note=note[:1000],
                    staff=staff[:64],
                    created_at=utcnow(),
                )
            )

    def actions(self) -> dict[int, list[ReviewAction]]:
        """Return every review's actions, oldest first, by review id."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(review_actions).order_by(review_actions.c.id)).all()
        found: dict[int, list[ReviewAction]] = {}
        for r in rows:
            found.setdefault(r.review_id, []).append(
                ReviewAction(r.review_id, r.action, r.note, r.staff, r.created_at)
            )
        return found
