"""Payment intents, raw callbacks, review records and receipts in SQL (SQLite or PostgreSQL).

The database, not Python, enforces the money rules: one idempotency key per intent, at most
one active intent per assessment (a partial unique index), one receipt per intent, and every
state change is a conditional UPDATE (`... WHERE status IN (...)`) so two workers racing on
the same intent cannot both win.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from civic.sql import add_missing_columns, make_engine
from payments.model import ACTIVE, FailureReason, Intent, IntentStatus, PaymentKind
from payments.paid_for import PaidFor
from payments.receipts import ReceiptCodec, ReceiptFields

metadata = MetaData()

_ACTIVE_SQL = "status IN ('pending', 'pushing', 'pushed')"

intents = Table(
    "payment_intents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("session_id", String(128), nullable=False),
    Column("assessment_id", String(64), nullable=False),
    Column("assessment_reference", String(64), nullable=False),
    Column("tax_code", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("operator", String(32), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("lang", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(32)),
    Column("provider_reference", String(128)),
    Column("provider_receipt", String(64)),
    Column("push_attempts", Integer, nullable=False, default=0),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("deadline_at", DateTime, nullable=False),
    Column("settled_at", DateTime),
    Column("settlement", String(32)),
    Column("receipt_code", String(32)),
    # What is paid (payments.model.PaymentKind); NULL in rows older than kinds: a tax.
    Column("kind", String(32)),
    UniqueConstraint("provider", "provider_reference", name="uq_payment_intents_provider_ref"),
    Index("ix_payment_intents_status_updated", "status", "updated_at"),
    # A second confirm of the same assessment cannot create a second charge: the database
    # refuses a second active intent whatever the application does.
    Index(
        "uq_payment_intents_one_active",
        "assessment_id",
        unique=True,
        sqlite_where=text(_ACTIVE_SQL),
        postgresql_where=text(_ACTIVE_SQL),
    ),
)

callbacks = Table(
    "payment_callbacks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider", String(32), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("intent_hint", String(64)),  # the `intent` query parameter of our callback URL
    Column("body", Text, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("processed_at", DateTime),
    Column("outcome", String(64)),
    # Providers retry the same body for hours: keep one row (and so one job) per body.
    UniqueConstraint("provider", "digest", "intent_hint", name="uq_payment_callbacks_body"),
)

reviews = Table(
    "payment_reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("provider", String(32), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("callback_id", Integer),
    Column("intent_id", String(32)),
    Column("created_at", DateTime, nullable=False),
)

# When reconciliation asks the provider again about an intent it could not settle (pending,
# ambiguous, provider down): a new table rather than columns, so create_all adds it to an
# existing database.
polls = Table(
    "payment_polls",
    metadata,
    Column("intent_id", String(32), primary_key=True),
    Column("checks", Integer, nullable=False),
    Column("next_check_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

receipts = Table(
    "payment_receipts",
    metadata,
    Column("serial", Integer, primary_key=True, autoincrement=True),
    Column("intent_id", String(32), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("tax_code", String(32), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("code", String(32)),
    Column("created_at", DateTime, nullable=False),
    Column("kind", String(32)),  # NULL: a tax assessment (receipts older than kinds)
)


def utcnow() -> datetime:
    """Return the current UTC time as the naive datetime every table stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def build_engine(database_url: str, timeout: float = 5.0) -> Engine:
    """Return an engine on the back office's database (civic's timeouts and SQLite WAL)."""
    return make_engine(database_url, timeout=timeout)


def migrate(database_url: str) -> None:
    """Create the payments tables and indexes if missing (idempotent)."""
    engine = build_engine(database_url)
    try:
        metadata.create_all(engine, checkfirst=True)
        add_missing_columns(engine, metadata)
    finally:
        engine.dispose()


@dataclass(frozen=True, slots=True)
class NewIntent:
    """What the service knows when a citizen confirms a payment."""

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


@dataclass(frozen=True, slots=True)
class StoredCallback:
    """A provider's callback exactly as received."""

    id: int
    provider: str
    intent_hint: str | None
    body: str
    processed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Review:
    """A callback or settlement a person must look at; never credited automatically."""

    id: int
    provider: str
    reason: str
    detail: str
    callback_id: int | None
    intent_id: str | None


def _intent(row: RowMapping | Mapping[str, Any]) -> Intent:
    return Intent(
        id=row["id"],
        idempotency_key=row["idempotency_key"],
        session_id=row["session_id"],
        assessment_id=row["assessment_id"],
        assessment_reference=row["assessment_reference"],
        tax_code=row["tax_code"],
        amount=int(row["amount"]),
        currency=row["currency"],
        phone=row["phone"],
        operator=row["operator"],
        provider=row["provider"],
        lang=row["lang"],
        status=IntentStatus(row["status"]),
        reason=FailureReason(row["reason"]) if row["reason"] else None,
        provider_reference=row["provider_reference"],
        provider_receipt=row["provider_receipt"],
        push_attempts=int(row["push_attempts"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deadline_at=row["deadline_at"],
        settled_at=row["settled_at"],
        settlement=row["settlement"],
        receipt_code=row["receipt_code"],
        kind=PaymentKind(row["kind"]) if row["kind"] else PaymentKind.TAX_ASSESSMENT,
    )


@dataclass(frozen=True, slots=True)
class StoredReceipt:
    """One issued receipt as the citizen finds it again: code, amount, what and when."""

    serial: int
    code: str
    amount: int
    currency: str
    paid_for: PaidFor
    paid_on: date


def paid_for_receipt(kind: str | None, item_code: str, reference: str) -> PaidFor:
    """Return what a receipt row (its kind, item code and reference) paid for."""
    return PaidFor(PaymentKind(kind or PaymentKind.TAX_ASSESSMENT.value), item_code, reference)


def paid_for_intent(intent: Intent) -> PaidFor:
    """Return what `intent` pays for."""
    return PaidFor(intent.kind, intent.tax_code, intent.assessment_reference)


def _statuses(values: Iterable[IntentStatus]) -> list[str]:
    return [s.value for s in values]


class PaymentStore:
    """Durable payment state; every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- intents -------------------------------------------------------------------------

    def create_intent(self, new: NewIntent) -> tuple[Intent, bool]:
        """Insert an intent; return (intent, True), or (the existing one, False) on a repeat."""
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
                        **{f: getattr(new, f) for f in NewIntent.__dataclass_fields__},
                    )
                )
        except IntegrityError:
            existing = self.by_idempotency_key(new.idempotency_key) or self.active_for_assessment(
                new.assessment_id
            )
            if existing is None:  # the conflicting row finished in between: try once more
                return self.create_intent(new)
            return existing, False
        created = self.get(intent_id)
        assert created is not None
        return created, True

    def _one(self, *where: Any) -> Intent | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(intents).where(*where)).mappings().first()
        return _intent(row) if row else None

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
        now = utcnow()
        return self._transition(
            intent_id,
            [IntentStatus.SUCCEEDED],
            intents.c.settled_at.is_(None),
            settled_at=now,
            settlement=settlement,
            receipt_code=receipt_code,
        )

    def ping(self) -> None:
        """Raise SQLAlchemyError unless the payments database answers."""
        with self._engine.connect() as conn:
            conn.execute(select(1)).all()

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
        return [_intent(r) for r in rows]

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

    def touch(self, intent_id: str) -> None:
        """Bump an active intent's updated_at so reconciliation looks at it later."""
        self._transition(intent_id, ACTIVE)

    # --- callbacks and reviews -----------------------------------------------------------

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

    # --- receipts ------------------------------------------------------------------------

    def issue_receipt(self, intent: Intent, paid_on: date, codec: ReceiptCodec) -> str:
        """Return the intent's receipt code, allocating a serial the first time (idempotent)."""
        fields = ReceiptFields(
            amount=intent.amount,
            currency=intent.currency,
            tax=intent.tax_code,
            reference=intent.assessment_reference,
            date=paid_on,
            kind=intent.kind.value,
        )
        try:
            with self._engine.begin() as conn:
                result = conn.execute(
                    insert(receipts).values(
                        intent_id=intent.id,
                        amount=fields.amount,
                        currency=fields.currency,
                        tax_code=fields.tax,
                        reference=fields.reference,
                        paid_on=fields.date,
                        created_at=utcnow(),
                        kind=fields.kind,
                    )
                )
                pk = result.inserted_primary_key
                assert pk is not None
                serial = int(pk[0])
                code = codec.issue(serial, fields)
                conn.execute(update(receipts).where(receipts.c.serial == serial).values(code=code))
                return code
        except IntegrityError:
            with self._engine.connect() as conn:
                existing = conn.execute(
                    select(receipts.c.code).where(receipts.c.intent_id == intent.id)
                ).scalar_one()
            return str(existing)

    def receipt_fields(self, serial: int) -> ReceiptFields | None:
        """Return the fields of receipt `serial` (the verifier re-checks their MAC)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(receipts).where(receipts.c.serial == serial)).first()
        if row is None:
            return None
        return ReceiptFields(
            amount=int(row.amount),
            currency=row.currency,
            tax=row.tax_code,
            reference=row.reference,
            date=row.paid_on,
            kind=row.kind or PaymentKind.TAX_ASSESSMENT.value,
        )

    def receipts_for_phone(self, phone: str, limit: int = 30) -> list[StoredReceipt]:
        """Return the receipts of payments made from `phone`, newest first."""
        query = (
            select(receipts)
            .join(intents, intents.c.id == receipts.c.intent_id)
            .where(intents.c.phone == phone, receipts.c.code.is_not(None))
            .order_by(receipts.c.serial.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            StoredReceipt(
                serial=int(row.serial),
                code=str(row.code),
                amount=int(row.amount),
                currency=row.currency,
                paid_for=paid_for_receipt(row.kind, row.tax_code, row.reference),
                paid_on=row.paid_on,
            )
            for row in rows
        ]

    def receipt_code_for_assessment(self, assessment_id: str) -> str | None:
        """Return the code of the receipt that paid `assessment_id`, if we issued one."""
        query = (
            select(receipts.c.code)
            .join(intents, intents.c.id == receipts.c.intent_id)
            .where(intents.c.assessment_id == assessment_id, receipts.c.code.is_not(None))
            .order_by(receipts.c.serial.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            code = conn.execute(query).scalar()
        return None if code is None else str(code)

    def count_receipts(self) -> int:
        """Return how many receipts were issued."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(receipts)).scalar_one())


def deadline_from(now: datetime, ttl_seconds: float) -> datetime:
    """Return when an intent created at `now` must have reached a final state."""
    return now + timedelta(seconds=ttl_seconds)
