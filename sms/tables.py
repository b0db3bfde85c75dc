"""The SMS tables: the durable message log and the phones' preferences (STOP, language).

Redis keeps the hot state (records moved by scripts, queues, idempotency keys); these tables
keep what must survive Redis coming back empty: every message a caller was told was accepted,
and every STOP. Phones appear only masked and as a keyed ref; the full number of a message
still to send is sealed (sms.sealing) and erased once the message leaves the queue.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
)
from sqlalchemy.exc import DBAPIError

metadata = MetaData()

# Stages order statuses: the log only moves forward from `sent` (a late batch write must not
# undo a delivery report), while queued <-> sending go both ways (retries).
STAGES = {"queued": 0, "sending": 1, "sent": 2}
FINAL_STAGE = 3

messages = Table(
    "sms_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    # sha256 of the caller's idempotency key: a key may name a phone (broadcast:<id>:<phone>).
    Column("idem", String(64), nullable=False, unique=True),
    Column("phone_masked", String(24), nullable=False),
    Column("phone_ref", String(24), nullable=False),
    Column("template", String(64), nullable=False),
    Column("lang", String(8), nullable=False),
    Column("params", Text, nullable=False),  # JSON, secret parameters masked
    Column("essential", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("reason", String(200), nullable=False, default=""),
    Column("segments", Integer, nullable=False, default=0),
    Column("encoding", String(8), nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("provider_id", String(128), nullable=False, default=""),
    Column("provider_status", String(32), nullable=False, default=""),
    Column("cost", String(32), nullable=False, default=""),
    # "<status>@<epoch>;" appended on every change of status: the message's history.
    Column("history", Text, nullable=False, default=""),
    # The number, sealed, only while a job may still send it (NULL once it left the queue).
    Column("sealed_phone", Text),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_sms_messages_stage_updated", "stage", "updated_at"),
)

preferences = Table(
    "sms_preferences",
    metadata,
    Column("phone_ref", String(64), primary_key=True),  # keyed hash, never the number
    Column("opted_out", Integer, nullable=False, default=0),
    Column("lang", String(8)),
    Column("updated_at", DateTime, nullable=False),
)


def utcnow() -> datetime:
    """Return the current UTC time as the naive datetime every table stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def create_tables(engine: Engine) -> None:
    """Create the SMS tables if missing; a process creating them at the same time is fine."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except DBAPIError:
        # Two processes' first writes raced (PostgreSQL: "already exists"): look again.
        metadata.create_all(engine, checkfirst=True)


def migrate(database_url: str) -> None:
    """Create the SMS tables if missing (idempotent; `python -m gateway migrate`)."""
    engine = create_engine(database_url)
    try:
        create_tables(engine)
    finally:
        engine.dispose()
