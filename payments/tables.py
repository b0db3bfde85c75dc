"""The payments tables (intents, raw callbacks, reviews, polls, receipts) on one MetaData.

The database, not Python, enforces the money rules: one idempotency key per intent, at most
one active intent per assessment (a partial unique index), one receipt per intent; the stores
(payments.intent_store and its siblings) change state only by conditional UPDATEs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

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
    # Every confirm looks the subject's paid intent up, "already paid" its receipt, "My
    # payments" the phone's: without these each is a scan of every intent ever made.
    Index("ix_payment_intents_assessment", "assessment_id"),
    Index("ix_payment_intents_phone", "phone"),
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

# A supervisor's word on a review: the money was given back (by the operator, by hand), with
# a note. Its own table, one row per review, never updated: the review itself stays as it was.
refunds = Table(
    "payment_refunds",
    metadata,
    Column("review_id", Integer, primary_key=True),
    Column("intent_id", String(32)),
    Column("note", Text, nullable=False),
    Column("marked_by", String(64), nullable=False),  # the staff member's email
    Column("marked_at", DateTime, nullable=False),
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
