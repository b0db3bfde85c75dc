"""The civic tables on one MetaData: the schema every civic.sql_* module reads and writes.

Columns added after version 1 are nullable so civic.sql_migrate can add them with ALTER TABLE.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa

# 2: reasons, offices, reason codes, office ids, dossiers, fees, events; 3: appointments;
# 4: sealed ID numbers and dates (runtime/sealing.py); 5: the history's `announce` (alerts owed);
# 6: kinds of request (registration, dossier, declaration, correction) and their workflows;
# 7: the appointment service a document books when an appointment is needed
SCHEMA_VERSION: Final = 7
# Sealed values (runtime/sealing.py) are longer than the clear ones: Fernet token of 40 chars.
SEALED_LENGTH: Final = 200


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """An aware UTC datetime on every dialect (SQLite keeps no offset, so we add it back)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Store UTC; SQLite gets a naive UTC value."""
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

schema_version = sa.Table(
    "civic_schema_version",
    metadata,
    sa.Column("component", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("migrated_at", UtcDateTime, nullable=False),
)

tax_types = sa.Table(
    "civic_tax_types",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("names", sa.JSON, nullable=False),
)

assessments = sa.Table(
    "civic_assessments",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tax_code", sa.ForeignKey("civic_tax_types.code"), nullable=False),
    sa.Column("reference", sa.String(32), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("period", sa.String(32), nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("paid", sa.Boolean, nullable=False, default=False),
    sa.Column("paid_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("tax_code", "reference", name="uq_civic_assessment_tax_ref"),
)

payments = sa.Table(
    "civic_payments",
    metadata,
    sa.Column("payment_id", sa.String(64), primary_key=True),  # idempotency of record_payment
    sa.Column("assessment_id", sa.ForeignKey("civic_assessments.id"), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("operator", sa.String(32), nullable=False),
    sa.Column("provider_reference", sa.String(64), nullable=False),
    sa.Column("paid_at", UtcDateTime, nullable=False),
    sa.Column("receipt_code", sa.String(32), nullable=False),
)

document_types = sa.Table(
    "civic_document_types",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("names", sa.JSON, nullable=False),
    sa.Column("fee", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("required_documents", sa.JSON, nullable=False),
    sa.Column("needs_visit", sa.Boolean, nullable=False),
    sa.Column("requires_identity", sa.Boolean, nullable=False),
    sa.Column("delay_days", sa.Integer, nullable=False),
    sa.Column("office", sa.JSON, nullable=False),
    # Added in version 2 (nullable, so an older table is upgraded with ALTER TABLE ADD).
    sa.Column("reasons", sa.JSON, nullable=True),  # [{code, decisions, texts}]
    sa.Column("fields", sa.JSON, nullable=True),
    sa.Column("at_counter", sa.JSON, nullable=True),
    # Added in version 6: the kind (NULL: document) and its workflow (NULL: a document's).
    sa.Column("kind", sa.String(20), nullable=True),
    sa.Column("transitions", sa.JSON, nullable=True),
    # Added in version 7: the appointment service booked when an appointment is needed.
    sa.Column("appointment_service", sa.String(32), nullable=True),
)

offices = sa.Table(
    "civic_offices",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("names", sa.JSON, nullable=False),
    sa.Column("address", sa.JSON, nullable=False),
    sa.Column("hours", sa.JSON, nullable=False),
)

requests = sa.Table(
    "civic_requests",
    metadata,
    sa.Column("reference", sa.String(16), primary_key=True),
    sa.Column("document_code", sa.ForeignKey("civic_document_types.code"), nullable=False),
    sa.Column("owner_phone", sa.String(20), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("applicant_name", sa.String(120), nullable=True),
    sa.Column("id_number", sa.String(SEALED_LENGTH), nullable=True),  # sealed
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("pickup", sa.String(200), nullable=True),
    sa.Column("reason_code", sa.String(32), nullable=True),
    sa.Column("office_id", sa.String(32), nullable=True),
    sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
    # Number of history entries: decisions update "WHERE version = what I read" (optimistic).
    sa.Column("version", sa.Integer, nullable=False),
    # Added in version 2 (nullable: NULL reads as an empty dossier and no fee).
    sa.Column("dossier", sa.JSON, nullable=True),
    sa.Column("fee", sa.BigInteger, nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("fee_status", sa.String(12), nullable=True),
    sa.Column("fee_receipt", sa.String(32), nullable=True),
    sa.Column("fee_payment_id", sa.String(64), nullable=True),
)

request_history = sa.Table(
    "civic_request_history",
    metadata,
    sa.Column("reference", sa.ForeignKey("civic_requests.reference"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=True),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("pickup", sa.String(200), nullable=True),
    sa.Column("reason_code", sa.String(32), nullable=True),
    sa.Column("office_id", sa.String(32), nullable=True),
    sa.Column("event", sa.String(16), nullable=True),  # version 2
    # True: Guichet owes this entry its SMS alert (written with the entry by the USSD filing
    # and the agents' decisions, cleared once SmsService accepted the alert). NULL: nothing
    # to announce (demo seed, rows a city portal wrote, entries older than the column).
    sa.Column("announce", sa.Boolean, nullable=True),
    sa.Index("ix_civic_history_announce", "announce"),
)

# Payables beyond taxes (civic/sql_payables.py): new tables, so create_all adds them to an
# older database without touching the version-1/2 ones.
payable_kinds = sa.Table(
    "civic_payable_kinds",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("names", sa.JSON, nullable=False),
    sa.Column("reference_label", sa.JSON, nullable=False),
    sa.Column("pattern", sa.String(64), nullable=False),
    sa.Column("receipt", sa.JSON, nullable=False),
)

payables = sa.Table(
    "civic_payables",
    metadata,
    # The receipt keeps this id as what it paid for (payment_receipts.tax_code, 32 long).
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.ForeignKey("civic_payable_kinds.code"), nullable=False),
    sa.Column("reference", sa.String(32), nullable=False),
    sa.Column("payer", sa.String(60), nullable=False),  # a school and class, a business
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("period", sa.String(16), nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("paid", sa.Boolean, nullable=False, default=False),
    sa.Column("paid_at", UtcDateTime, nullable=True),
    sa.Column("receipt_code", sa.String(32), nullable=True),
    sa.UniqueConstraint("kind", "reference", "period", name="uq_civic_payable_kind_ref_period"),
)

payable_payments = sa.Table(
    "civic_payable_payments",
    metadata,
    sa.Column("payment_id", sa.String(64), primary_key=True),  # idempotency
    sa.Column("payable_id", sa.ForeignKey("civic_payables.id"), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False),  # personal data: the payer's phone
    sa.Column("operator", sa.String(32), nullable=False),
    sa.Column("provider_reference", sa.String(64), nullable=False),
    sa.Column("paid_at", UtcDateTime, nullable=False),
    sa.Column("receipt_code", sa.String(32), nullable=False),
)

citizens = sa.Table(
    "civic_citizens",
    metadata,
    sa.Column("phone", sa.String(20), primary_key=True),
    sa.Column("name", sa.String(120), nullable=True),
    sa.Column("id_number", sa.String(SEALED_LENGTH), nullable=True),  # sealed
    sa.Column("language", sa.String(8), nullable=True),
)

# Written by `seed-demo` (civic/seed.py) beside the demo city's rows: production refuses a
# database that holds play data, and finds it by this row rather than by guessing from names.
seed_marks = sa.Table(
    "civic_seed_marks",
    metadata,
    sa.Column("mark", sa.String(32), primary_key=True),
    sa.Column("city", sa.String(64), nullable=False),
    sa.Column("seeded_at", UtcDateTime, nullable=False),
)

# Appointments (civic.sql_appointments): the services as the catalogue describes them, a
# column per field of civic.appointments.AppointmentService (civic.sql_rows.SERVICES).
appointment_services = sa.Table(
    "civic_appointment_services",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("names", sa.JSON, nullable=False),
    sa.Column("place", sa.JSON, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("counters", sa.JSON, nullable=False),  # [{id, names}]
    sa.Column("hours", sa.JSON, nullable=False),  # {"0": [[from, to], ...]} minutes, 0 = Monday
    sa.Column("slot_minutes", sa.Integer, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("closed_days", sa.JSON, nullable=False),  # ["YYYY-MM-DD", ...]
    sa.Column("horizon_days", sa.Integer, nullable=False),
    sa.Column("reminder_from", sa.Integer, nullable=False),
    sa.Column("reminder_until", sa.Integer, nullable=False),
)

# One row per booking. A booked place holds `seat` (0..capacity-1) on its slot and counter; the
# unique constraint is what makes the last place go to one booking only, on every dialect.
# Cancelling sets seat to NULL, which frees the place (NULLs never collide in a unique key).
appointments = sa.Table(
    "civic_appointments",
    metadata,
    sa.Column("code", sa.String(16), primary_key=True),
    sa.Column("service_code", sa.String(32), nullable=False),
    sa.Column("counter_id", sa.String(32), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("minute", sa.Integer, nullable=False),
    sa.Column("seat", sa.Integer, nullable=True),
    sa.Column("phone", sa.String(20), nullable=False, index=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=True),
    sa.Column("remind_from", UtcDateTime, nullable=True, index=True),  # NULL: no reminder
    sa.Column("remind_until", UtcDateTime, nullable=True),
    sa.Column("reminded_at", UtcDateTime, nullable=True),
    sa.Column("agent_id", sa.String(64), nullable=True),
    sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
    sa.UniqueConstraint(
        "service_code", "counter_id", "day", "minute", "seat", name="uq_civic_appointment_place"
    ),
)
