"""Payment intents in SQL: create one per confirmation, find it, move it through its states.

Every state change is a conditional UPDATE (`... WHERE status IN (...)`) so two workers racing
on the same intent cannot both win; the tables (payments.tables) refuse a second active intent
of an assessment and a second intent of one idempotency key.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from payments.model import ACTIVE, FailureReason, Intent, IntentStatus, PaymentKind
from payments.tables import intents, polls, utcnow

# An insert that conflicts with a row we then cannot find (it left the active states in
# between) is tried again; past this many attempts something else refuses it: say so.
CREATE_ATTEMPTS: Final = 3


class IntentConflictError(RuntimeError):
    """The database kept refusing a new intent and no existing one explains why."""


@dataclass(frozen=True, slots=True)
class NewIntent:
    """What the service knows when a citizen confirms a payment (a subset of Intent's fields)."""

    idempotency_key: str
    session_id: str
    assessment_id: str
    assessment_reference: str
    tax_code: str
    amount: int
    currency: str
    phone: str
    operator: str
    provider: str
    lang: str
    deadline_at: datetime
    kind: PaymentKind = PaymentKind.TAX_ASSESSMENT


def deadline_from(now: datetime, ttl_seconds: float) -> datetime:
    """Return when an intent created at `now` must have reached a final state."""
    return now + timedelta(seconds=ttl_seconds)


def _same(value: Any) -> Any:
    return value


# Row values that are not already the field's type; every other Intent field is read as is
# from the column of the same name, so a new plain field is one column and one field.
_DECODE: Final[Mapping[str, Callable[[Any], Any]]] = {
    "amount": int,
    "push_attempts": int,
    "status": IntentStatus,
    "reason": lambda v: FailureReason(v) if v else None,
    "kind": lambda v: PaymentKind(v) if v else PaymentKind.TAX_ASSESSMENT,  # NULL: older rows
}
INTENT_FIELDS: Final = tuple(f.name for f in fields(Intent))
NEW_INTENT_FIELDS: Final = tuple(f.name for f in fields(NewIntent))


def intent_from_row(row: RowMapping | Mapping[str, Any]) -> Intent:
    """Return the Intent a payment_intents row holds."""
    return Intent(**{name: _DECODE.get(name, _same)(row[name]) for name in INTENT_FIELDS})


def _statuses(values: Iterable[IntentStatus]) -> list[str]:
    return [s.value for s in values]


class IntentStore:
    """Payment intents: every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_intent(self, new: NewIntent) -> tuple[Intent, bool]:
        """Insert an intent; return (intent, True), or (the existing one, False) on a repeat."""
        for _ in range(CREATE_ATTEMPTS):
            now = utcnow()
            intent_id = uuid.uuid4().hex
            try:
                with self._engine.begin() as conn:
                    conn.execute(
                        insert(intents).values(
                            id=intent_id,
                            status=IntentStatus.PENDING.value,
                            push_attempts=0,
                            created_at=now,
                            updated_at=now,
                            **{name: getattr(new, name) for name in NEW_INTENT_FIELDS},
                        )
                    )
            except IntegrityError:
                existing = self.by_idempotency_key(new.idempotency_key) or (
                    self.active_for_assessment(new.assessment_id)
                )
                if existing is not None:
                    return existing, False
                continue  # the conflicting row finished in between: try again
            created = self.get(intent_id)
            assert created is not None
            return created, True
        raise IntentConflictError(
            f"payment_intents refused a new intent of assessment {new.assessment_id!r} "
            f"{CREATE_ATTEMPTS} times and holds no intent explaining it"
        )

    def _one(self, *where: Any) -> Intent | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(intents).where(*where)).mappings().first()
        return intent_from_row(row) if row else None

    def get(self, intent_id: str) -> Intent | None:
        """Return an intent by id."""
        return self._one(intents.c.id == intent_id)

    def by_idempotency_key(self, key: str) -> Intent | None:
        """Return the intent created with `key`."""
        return self._one(intents.c.idempotency_key == key)

    def active_for_assessment(self, assessment_id: str) -> Intent | None:
        """Return the assessment's pending/pushing/pushed intent, if any."""
        return self._one(
            intents.c.assessment_id == assessment_id, intents.c.status.in_(_statuses(ACTIVE))
        )

    def succeeded_for_assessment(self, assessment_id: str) -> Intent | None:
        """Return a succeeded intent of the assessment (paid, recorded or not yet)."""
        return self._one(
            intents.c.assessment_id == assessment_id,
            intents.c.status == IntentStatus.SUCCEEDED.value,
        )

    def by_provider_reference(self, provider: str, reference: str) -> Intent | None:
        """Return the intent the provider knows as `reference`."""
        return self._one(intents.c.provider == provider, intents.c.provider_reference == reference)

    def _transition(
        self, intent_id: str, from_: Iterable[IntentStatus], *extra: Any, **values: Any
    ) -> bool:
        values.setdefault("updated_at", utcnow())
        with self._engine.begin() as conn:
            result = conn.execute(
                update(intents)
                .where(intents.c.id == intent_id, intents.c.status.in_(_statuses(from_)), *extra)
                .values(**values)
            )
        return result.rowcount == 1

    def claim_push(self, intent_id: str) -> bool:
        """Move pending -> pushing; only the job that wins this may call the provider."""
        return self._transition(
            intent_id,
            [IntentStatus.PENDING],
            status=IntentStatus.PUSHING.value,
            push_attempts=intents.c.push_attempts + 1,
        )

    def release_push(self, intent_id: str) -> bool:
        """Move pushing -> pending when the provider certainly never got the request."""
        return self._transition(
            intent_id, [IntentStatus.PUSHING], status=IntentStatus.PENDING.value
        )

    def mark_pushed(self, intent_id: str, provider_reference: str) -> bool:
        """Move pushing -> pushed and remember the provider's reference."""
        return self._transition(
            intent_id,
            [IntentStatus.PUSHING],
            status=IntentStatus.PUSHED.value,
            provider_reference=provider_reference,
        )

    def attach_reference(self, intent_id: str, provider_reference: str) -> bool:
        """Remember a provider reference learnt from a callback (the push reply was lost)."""
        return self._transition(
            intent_id,
            [*ACTIVE, IntentStatus.FAILED, IntentStatus.EXPIRED],
            intents.c.provider_reference.is_(None),
            provider_reference=provider_reference,
        )

    def mark_failed(self, intent_id: str, reason: FailureReason) -> bool:
        """Move an active intent to failed(reason)."""
        return self._transition(
            intent_id, ACTIVE, status=IntentStatus.FAILED.value, reason=reason.value
        )

    def expire(self, intent_id: str) -> bool:
        """Move an active intent to expired."""
        return self._transition(
            intent_id, ACTIVE, status=IntentStatus.EXPIRED.value, reason=FailureReason.TIMEOUT.value
        )

    def mark_succeeded(self, intent_id: str, provider_receipt: str | None) -> bool:
        """Move to succeeded; also from failed/expired, since the money was taken anyway."""
        return self._transition(
            intent_id,
            [*ACTIVE, IntentStatus.FAILED, IntentStatus.EXPIRED],
            status=IntentStatus.SUCCEEDED.value,
            reason=None,
            provider_receipt=provider_receipt,
        )

    def mark_settled(self, intent_id: str, settlement: str, receipt_code: str | None) -> bool:
        """Record that a succeeded intent was settled with the back office (once)."""
        return self._transition(
            intent_id,
            [IntentStatus.SUCCEEDED],
            intents.c.settled_at.is_(None),
            settled_at=utcnow(),
            settlement=settlement,
            receipt_code=receipt_code,
        )

    def touch(self, intent_id: str) -> None:
        """Bump an active intent's updated_at so reconciliation looks at it later."""
        self._transition(intent_id, ACTIVE)

    def search(
        self,
        *,
        references: Sequence[str] = (),
        phones: Sequence[str] = (),
        status: IntentStatus | None = None,
        limit: int = 100,
    ) -> list[Intent]:
        """Return intents, newest first, matching any reference or phone, and the status.

        A reference is the intent's id, the subject's reference, the operator's transaction
        id or the receipt code; `phones` are numbers or their `ref:` keyed hash (after the
        retention job replaced the number).
        """
        query = select(intents).order_by(intents.c.created_at.desc()).limit(limit)
        matches = [
            column.in_(list(references))
            for column in (
                intents.c.id,
                intents.c.assessment_reference,
                intents.c.provider_reference,
                intents.c.receipt_code,
            )
            if references
        ]
        if phones:
            matches.append(intents.c.phone.in_(list(phones)))
        if matches:
            query = query.where(or_(*matches))
        if status is not None:
            query = query.where(intents.c.status == status.value)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [intent_from_row(row) for row in rows]

    def count_by_status(self) -> dict[str, int]:
        """Return how many intents are in each status (the /metrics gauge)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(intents.c.status, func.count()).group_by(intents.c.status)
            ).all()
        return {str(status): int(count) for status, count in rows}

    def needing_attention(
        self, updated_before: datetime, now: datetime | None = None, limit: int = 200
    ) -> list[Intent]:
        """Return unsettled successes, and active intents due a check: untouched since
        `updated_before`, or whose scheduled check (payment_polls) is due at `now`."""
        now = now or utcnow()
        due = (polls.c.next_check_at.is_(None) & (intents.c.updated_at < updated_before)) | (
            polls.c.next_check_at <= now
        )
        with self._engine.connect() as conn:
            rows = (
                conn.execute(
                    select(intents)
                    .select_from(intents.outerjoin(polls, polls.c.intent_id == intents.c.id))
                    .where(
                        (intents.c.status.in_(_statuses(ACTIVE)) & due)
                        | (
                            (intents.c.status == IntentStatus.SUCCEEDED.value)
                            & intents.c.settled_at.is_(None)
                        )
                    )
                    .order_by(intents.c.updated_at)
                    .limit(limit)
                )
                .mappings()
                .all()
            )
        return [intent_from_row(r) for r in rows]
