"""The embedded back office: civic.ports.Backend on SQLAlchemy Core (SQLite or PostgreSQL).

SqlBackend composes one piece per concern on one engine: the catalogue (civic.sql_catalogue),
tax assessments (sql_taxes), document requests (sql_requests) and citizens (sql_citizens), over
the tables of civic.sql_tables; civic.sql_rows maps rows to records, civic.sql_migrate creates
the schema and civic.sql_engine builds engines with short timeouts and turns every database
error into BackendUnavailableError. The names callers used before the split are re-exported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from civic.appointments import AppointmentService, Attendance, Booking
from civic.ports import (
    Assessment,
    Citizen,
    Decision,
    DocumentRequest,
    DocumentType,
    FeePayment,
    Office,
    Payable,
    PayableKind,
    PayablePayment,
    PaymentRecord,
    RecordOutcome,
    RequestStatus,
    TaxType,
)
from civic.references import new_reference
from civic.sql_appointments import SqlAppointments
from civic.sql_catalogue import SqlCatalogue
from civic.sql_citizens import SqlCitizens
from civic.sql_engine import DEFAULT_TIMEOUT, guarded, make_engine
from civic.sql_migrate import add_missing_columns, migrate, migrate_engine
from civic.sql_payables import SqlPayables
from civic.sql_requests import SqlRequests
from civic.sql_rows import reasons_from_rows, reasons_to_rows
from civic.sql_tables import (
    SCHEMA_VERSION,
    UtcDateTime,
    assessments,
    citizens,
    document_types,
    metadata,
    offices,
    payable_kinds,
    payable_payments,
    payables,
    payments,
    request_history,
    requests,
    schema_version,
    seed_marks,
    tax_types,
)
from civic.sql_taxes import SqlTaxes
from runtime.sealing import Sealer

__all__ = [
    "DEFAULT_TIMEOUT",
    "SCHEMA_VERSION",
    "SqlBackend",
    "UtcDateTime",
    "add_missing_columns",
    "assessments",
    "citizens",
    "document_types",
    "make_engine",
    "metadata",
    "migrate",
    "migrate_engine",
    "offices",
    "payable_kinds",
    "payable_payments",
    "payables",
    "payments",
    "reasons_from_rows",
    "reasons_to_rows",
    "request_history",
    "requests",
    "schema_version",
    "seed_marks",
    "tax_types",
]


class SqlBackend:
    """civic.ports.Backend on a SQL database: each method is its concern's, on one engine."""

    def __init__(
        self,
        engine: Engine,
        *,
        reference_factory: Callable[[], str] = new_reference,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cipher: Sealer | None = None,
    ) -> None:
        self._engine = engine
        # ID numbers and dates of birth are sealed at rest (runtime/sealing.py).
        self._cipher = cipher or Sealer.from_setting("")
        self.catalogue = SqlCatalogue(engine)
        self.taxes = SqlTaxes(engine)
        self.requests = SqlRequests(
            engine,
            self.catalogue,
            reference_factory=reference_factory,
            clock=clock,
            cipher=self._cipher,
        )
        self.citizens = SqlCitizens(engine, self._cipher)
        self.payables = SqlPayables(engine)
        self.appointments = SqlAppointments(engine, code_factory=reference_factory, clock=clock)

    @classmethod
    def from_url(
        cls,
        database_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        cipher: Sealer | None = None,
    ) -> SqlBackend:
        """Return a backend on `database_url` (does not connect yet)."""
        engine = make_engine(database_url, timeout=timeout, connect_timeout=connect_timeout)
        return cls(engine, cipher=cipher)

    @property
    def cipher(self) -> Sealer:
        """Return the cipher of sealed values (rotation, exports)."""
        return self._cipher

    @property
    def engine(self) -> Engine:
        """Return the engine (seeding and tests)."""
        return self._engine

    def dispose(self) -> None:
        """Close pooled connections."""
        self._engine.dispose()

    # --- health ---------------------------------------------------------------------------

    @guarded
    def ping(self) -> None:
        """Raise BackendUnavailableError unless the database answers."""
        with self._engine.connect() as conn:
            conn.execute(sa.select(schema_version.c.version).limit(1)).all()

    # --- catalogue (civic.sql_catalogue) --------------------------------------------------

    def list_tax_types(self) -> list[TaxType]:
        """Return the city's taxes in display order."""
        return self.catalogue.list_tax_types()

    def list_document_types(self) -> list[DocumentType]:
        """Return the documents citizens can request, in display order."""
        return self.catalogue.list_document_types()

    def get_document_type(self, code: str) -> DocumentType | None:
        """Return one document type."""
        return self.catalogue.get_document_type(code)

    def list_offices(self) -> list[Office]:
        """Return the offices where documents are collected."""
        return self.catalogue.list_offices()

    def get_office(self, office_id: str) -> Office | None:
        """Return one office."""
        return self.catalogue.get_office(office_id)

    # --- taxes (civic.sql_taxes) ----------------------------------------------------------

    def find_assessment(self, tax_code: str, reference: str) -> Assessment | None:
        """Return the assessment of `reference` for `tax_code`, if any."""
        return self.taxes.find_assessment(tax_code, reference)

    def get_assessment(self, assessment_id: str) -> Assessment | None:
        """Return an assessment by id."""
        return self.taxes.get_assessment(assessment_id)

    def record_payment(self, record: PaymentRecord) -> RecordOutcome:
        """Settle an assessment; idempotent by `record.payment_id`."""
        return self.taxes.record_payment(record)

    # --- payables (civic.sql_payables) ----------------------------------------------------

    def list_payable_kinds(self) -> list[PayableKind]:
        """Return the kinds of payables in display order."""
        return self.payables.list_payable_kinds()

    def find_payable(self, kind: str, reference: str) -> Payable | None:
        """Return the open payable of `reference` for `kind` (else its latest paid one)."""
        return self.payables.find_payable(kind, reference)

    def get_payable(self, payable_id: str) -> Payable | None:
        """Return a payable by id."""
        return self.payables.get_payable(payable_id)

    def record_payable_payment(self, payment: PayablePayment) -> RecordOutcome:
        """Settle a payable; idempotent by `payment.payment_id`."""
        return self.payables.record_payable_payment(payment)

    # --- requests (civic.sql_requests) ----------------------------------------------------

    def create_request(
        self,
        *,
        owner_phone: str,
        document_code: str,
        idempotency_key: str,
        applicant_name: str | None = None,
        id_number: str | None = None,
        dossier: Mapping[str, str] | None = None,
        collect_fee: bool = False,
        announce: bool = False,
    ) -> DocumentRequest:
        """Create a request (awaiting_payment or submitted); the same key returns it again."""
        return self.requests.create_request(
            owner_phone=owner_phone,
            document_code=document_code,
            idempotency_key=idempotency_key,
            applicant_name=applicant_name,
            id_number=id_number,
            dossier=dossier,
            collect_fee=collect_fee,
            announce=announce,
        )

    def get_request(self, reference: str) -> DocumentRequest | None:
        """Return a request by reference."""
        return self.requests.get_request(reference)

    def list_requests(
        self,
        *,
        owner_phone: str | None = None,
        status: RequestStatus | None = None,
        limit: int = 20,
        offset: int = 0,
        created_before: datetime | None = None,
    ) -> list[DocumentRequest]:
        """Return requests, newest first."""
        return self.requests.list_requests(
            owner_phone=owner_phone,
            status=status,
            limit=limit,
            offset=offset,
            created_before=created_before,
        )

    def decide(
        self,
        reference: str,
        decision: Decision,
        *,
        agent_id: str,
        reason: str | None = None,
        pickup: str | None = None,
        reason_code: str | None = None,
        office_id: str | None = None,
        announce: bool = False,
    ) -> DocumentRequest:
        """Apply an agent's decision; raise IllegalTransitionError, FeeUnpaidError, ..."""
        return self.requests.decide(
            reference,
            decision,
            agent_id=agent_id,
            reason=reason,
            pickup=pickup,
            reason_code=reason_code,
            office_id=office_id,
            announce=announce,
        )

    def owed_alerts(self, before: datetime, limit: int) -> list[tuple[str, int]]:
        """Return (reference, entry number from 1) of SMS alerts owed since before `before`."""
        return self.requests.owed_alerts(before, limit)

    def alert_sent(self, reference: str, seq: int) -> None:
        """Clear the owed mark of entry `seq` (from 1) of `reference`."""
        self.requests.alert_sent(reference, seq)

    def record_fee_payment(self, payment: FeePayment) -> RecordOutcome:
        """Settle a request's fee (awaiting_payment/expired -> submitted); idempotent by id."""
        return self.requests.record_fee_payment(payment)

    def expire_request(self, reference: str) -> DocumentRequest | None:
        """Move a request still awaiting payment to expired; None when it is not awaiting."""
        return self.requests.expire_request(reference)

    # --- citizens (civic.sql_citizens) ----------------------------------------------------

    def get_citizen(self, phone: str) -> Citizen | None:
        """Return the citizen with this phone, if known."""
        return self.citizens.get_citizen(phone)

    def save_citizen(self, citizen: Citizen) -> None:
        """Create or update a citizen."""
        self.citizens.save_citizen(citizen)

    # --- appointments (civic.sql_appointments) --------------------------------------------

    def list_appointment_services(self) -> list[AppointmentService]:
        """Return the services one may book, in display order."""
        return self.appointments.list_appointment_services()

    def get_appointment_service(self, code: str) -> AppointmentService | None:
        """Return one appointment service."""
        return self.appointments.get_appointment_service(code)

    def taken_places(
        self, service_code: str, first: date, last: date
    ) -> dict[date, dict[int, int]]:
        """Return the places held per local day and start minute between two days."""
        return self.appointments.taken_places(service_code, first, last)

    def book_appointment(
        self, *, service_code: str, day: date, minute: int, phone: str, idempotency_key: str
    ) -> Booking:
        """Book one place atomically; raise SlotFullError, SlotNotOfferedError, ..."""
        return self.appointments.book_appointment(
            service_code=service_code,
            day=day,
            minute=minute,
            phone=phone,
            idempotency_key=idempotency_key,
        )

    def move_booking(self, code: str, *, day: date, minute: int) -> Booking:
        """Move an active booking to another slot of its service, keeping its code."""
        return self.appointments.move_booking(code, day=day, minute=minute)

    def cancel_booking(self, code: str) -> Booking:
        """Cancel an active booking and free its place."""
        return self.appointments.cancel_booking(code)

    def mark_booking(self, code: str, attendance: Attendance, *, agent_id: str) -> Booking:
        """Record attended / no-show once."""
        return self.appointments.mark_booking(code, attendance, agent_id=agent_id)

    def get_booking(self, code: str) -> Booking | None:
        """Return a booking by code."""
        return self.appointments.get_booking(code)

    def list_bookings(self, *, phone: str, limit: int = 10) -> list[Booking]:
        """Return a phone's active bookings, soonest first."""
        return self.appointments.list_bookings(phone=phone, limit=limit)

    def agenda(self, service_code: str, day: date, counter_id: str | None = None) -> list[Booking]:
        """Return the day's bookings holding a place, by time and counter."""
        return self.appointments.agenda(service_code, day, counter_id)

    def due_reminders(self, now: datetime, limit: int = 500) -> list[Booking]:
        """Return active bookings whose reminder window holds `now` and that had none."""
        return self.appointments.due_reminders(now, limit)

    def mark_reminded(self, code: str, at: datetime) -> bool:
        """Claim a booking's reminder."""
        return self.appointments.mark_reminded(code, at)
