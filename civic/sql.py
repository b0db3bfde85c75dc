"""The embedded back office: civic.ports.Backend on SQLAlchemy Core (SQLite or PostgreSQL).

Every database error becomes BackendUnavailableError so a USSD hop shows "try again later"
instead of dying; short connect/busy/statement timeouts keep a hop from hanging on a lock.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine, make_url

from civic import codec, workflow
from civic.cipher import FieldCipher, sealed_fields
from civic.ports import (
    Assessment,
    BackendUnavailableError,
    Citizen,
    Decision,
    DocumentRequest,
    DocumentType,
    FeePayment,
    FeeStatus,
    HistoryEvent,
    IdentityRequiredError,
    IllegalTransitionError,
    Office,
    PaymentRecord,
    Reason,
    RecordOutcome,
    RequestStatus,
    StatusChange,
    TaxType,
    UnknownDocumentTypeError,
    UnknownRequestError,
)
from civic.references import new_reference

SCHEMA_VERSION: Final = 3  # 2: reasons, offices, codes, dossiers, fees, events; 3: sealed ids
# Sealed values (civic/cipher.py) are longer than the clear ones: Fernet token of 40 chars.
SEALED_LENGTH: Final = 200
DEFAULT_TIMEOUT: Final = 2.0
_NEW_REFERENCE_TRIES: Final = 8
_DECIDE_TRIES: Final = 3

P = ParamSpec("P")
R = TypeVar("R")


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


def make_engine(
    database_url: str, *, timeout: float = DEFAULT_TIMEOUT, connect_timeout: float | None = None
) -> Engine:
    """Return an engine with short timeouts; create a SQLite file's parent directory."""
    url = make_url(database_url)
    connect_timeout = timeout if connect_timeout is None else connect_timeout
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": timeout}, pool_timeout=timeout)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() == "postgresql":
        # Keep any options the URL carries (tests pass a search_path) and add the timeout.
        options = str(url.query.get("options", ""))
        options = f"{options} -c statement_timeout={int(timeout * 1000)}".strip()
        return sa.create_engine(
            url,
            connect_args={
                "connect_timeout": max(1, math.ceil(connect_timeout)),
                "options": options,
            },
            pool_timeout=timeout,
            pool_pre_ping=True,
        )
    return sa.create_engine(url, pool_timeout=timeout)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web and worker processes read while the other writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def migrate(database_url: str, *, timeout: float = DEFAULT_TIMEOUT) -> int:
    """Create or upgrade the civic tables (idempotent); return the schema version."""
    engine = make_engine(database_url, timeout=max(timeout, 10.0))
    try:
        migrate_engine(engine)
    except exc.SQLAlchemyError as error:
        raise BackendUnavailableError(f"cannot migrate the civic schema: {error}") from error
    finally:
        engine.dispose()
    return SCHEMA_VERSION


def migrate_engine(engine: Engine) -> None:
    """Create the civic tables on `engine` and record the schema version."""
    metadata.create_all(engine, checkfirst=True)
    add_missing_columns(engine, metadata)
    widen_sealed_columns(engine)
    with engine.begin() as conn:
        now = datetime.now(UTC)
        found = conn.execute(
            sa.select(schema_version.c.version).where(schema_version.c.component == "civic")
        ).scalar_one_or_none()
        if found is None:
            conn.execute(
                schema_version.insert().values(
                    component="civic", version=SCHEMA_VERSION, migrated_at=now
                )
            )
        elif found < SCHEMA_VERSION:
            conn.execute(
                schema_version.update()
                .where(schema_version.c.component == "civic")
                .values(version=SCHEMA_VERSION, migrated_at=now)
            )


def add_missing_columns(engine: Engine, tables: sa.MetaData) -> None:
    """Add the nullable columns a newer version declared to tables an older one created."""
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in tables.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present or not column.nullable:
                    continue
                # Only nullable columns are ever added, so no default is needed.
                kind = column.type.compile(dialect=engine.dialect)
                conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def widen_sealed_columns(engine: Engine) -> None:
    """Give the ID-number columns of a version-2 table room for a sealed value (PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return  # SQLite does not enforce VARCHAR lengths
    with engine.begin() as conn:
        for table in (requests, citizens):
            conn.execute(
                sa.text(
                    f"ALTER TABLE {table.name} ALTER COLUMN id_number TYPE VARCHAR({SEALED_LENGTH})"
                )
            )


def _guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Turn database failures into BackendUnavailableError."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (exc.DBAPIError, exc.TimeoutError, exc.ResourceClosedError) as error:
            raise BackendUnavailableError(
                f"back office database error: {type(error).__name__}"
            ) from error

    return wrapper


class SqlBackend:
    """civic.ports.Backend on a SQL database."""

    def __init__(
        self,
        engine: Engine,
        *,
        reference_factory: Callable[[], str] = new_reference,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cipher: FieldCipher | None = None,
    ) -> None:
        self._engine = engine
        self._new_reference = reference_factory
        self._clock = clock
        # ID numbers and dates of birth are sealed on write and opened on read (civic/cipher).
        self._cipher = cipher or FieldCipher.from_setting("")

    @classmethod
    def from_url(
        cls,
        database_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        cipher: FieldCipher | None = None,
    ) -> SqlBackend:
        """Return a backend on `database_url` (does not connect yet)."""
        engine = make_engine(database_url, timeout=timeout, connect_timeout=connect_timeout)
        return cls(engine, cipher=cipher)

    @property
    def cipher(self) -> FieldCipher:
        """Return the cipher of sealed values (rotation, exports)."""
        return self._cipher

    @property
    def engine(self) -> Engine:
        """Return the engine (seeding and tests)."""
        return self._engine

    def dispose(self) -> None:
        """Close pooled connections."""
        self._engine.dispose()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            yield conn

    # --- health ---------------------------------------------------------------------------

    @_guarded
    def ping(self) -> None:
        """Raise BackendUnavailableError unless the database answers."""
        with self._read() as conn:
            conn.execute(sa.select(schema_version.c.version).limit(1)).all()

    # --- taxes ----------------------------------------------------------------------------

    @_guarded
    def list_tax_types(self) -> list[TaxType]:
        """Return the city's taxes in display order."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(tax_types).order_by(tax_types.c.position, tax_types.c.code)
            ).all()
        return [TaxType(code=r.code, names=dict(r.names)) for r in rows]

    @_guarded
    def find_assessment(self, tax_code: str, reference: str) -> Assessment | None:
        """Return the assessment of `reference` for `tax_code`, if any."""
        query = sa.select(assessments).where(
            assessments.c.tax_code == tax_code, assessments.c.reference == reference
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _assessment(row)

    @_guarded
    def get_assessment(self, assessment_id: str) -> Assessment | None:
        """Return an assessment by id."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(assessments).where(assessments.c.id == assessment_id)
            ).first()
        return None if row is None else _assessment(row)

    @_guarded
    def record_payment(self, record: PaymentRecord) -> RecordOutcome:
        """Settle an assessment; idempotent by `record.payment_id`."""
        try:
            with self._engine.begin() as conn:
                return self._record_payment(conn, record)
        except exc.IntegrityError:
            # A concurrent call inserted the same payment id first.
            with self._read() as conn:
                if _payment_exists(conn, record.payment_id):
                    return RecordOutcome.ALREADY_RECORDED
            raise

    def _record_payment(self, conn: Connection, record: PaymentRecord) -> RecordOutcome:
        if _payment_exists(conn, record.payment_id):
            return RecordOutcome.ALREADY_RECORDED
        row = conn.execute(
            sa.select(assessments).where(assessments.c.id == record.assessment_id)
        ).first()
        if row is None:
            return RecordOutcome.UNKNOWN_ASSESSMENT
        if row.amount != record.amount or row.currency != record.currency:
            return RecordOutcome.AMOUNT_MISMATCH
        if row.paid:
            # Settled since our first check, maybe by a twin of this call (a retried callback).
            if _payment_exists(conn, record.payment_id):
                return RecordOutcome.ALREADY_RECORDED
            return RecordOutcome.ASSESSMENT_ALREADY_PAID
        settled = conn.execute(
            assessments.update()
            .where(assessments.c.id == record.assessment_id, assessments.c.paid.is_(False))
            .values(paid=True, paid_at=record.paid_at)
        )
        if settled.rowcount == 0:  # settled between our read and write: by a twin of this call?
            if _payment_exists(conn, record.payment_id):
                return RecordOutcome.ALREADY_RECORDED
            return RecordOutcome.ASSESSMENT_ALREADY_PAID
        conn.execute(
            payments.insert().values(
                payment_id=record.payment_id,
                assessment_id=record.assessment_id,
                amount=record.amount,
                currency=record.currency,
                phone=record.phone,
                operator=record.operator,
                provider_reference=record.provider_reference,
                paid_at=record.paid_at,
                receipt_code=record.receipt_code,
            )
        )
        return RecordOutcome.RECORDED

    # --- documents ------------------------------------------------------------------------

    @_guarded
    def list_document_types(self) -> list[DocumentType]:
        """Return the documents citizens can request, in display order."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(document_types).order_by(document_types.c.position, document_types.c.code)
            ).all()
        return [_document_type(r) for r in rows]

    @_guarded
    def get_document_type(self, code: str) -> DocumentType | None:
        """Return one document type."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(document_types).where(document_types.c.code == code)
            ).first()
        return None if row is None else _document_type(row)

    @_guarded
    def list_offices(self) -> list[Office]:
        """Return the offices where documents are collected."""
        with self._read() as conn:
            rows = conn.execute(sa.select(offices).order_by(offices.c.position, offices.c.id)).all()
        return [_office(r) for r in rows]

    @_guarded
    def get_office(self, office_id: str) -> Office | None:
        """Return one office."""
        with self._read() as conn:
            row = conn.execute(sa.select(offices).where(offices.c.id == office_id)).first()
        return None if row is None else _office(row)

    @_guarded
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
    ) -> DocumentRequest:
        """Create a request (awaiting_payment or submitted); the same key returns it again."""
        existing = self._request_by_key(idempotency_key)
        if existing is not None:
            return existing
        document = self.get_document_type(document_code)
        if document is None:
            raise UnknownDocumentTypeError(document_code)
        applicant_name = (applicant_name or "").strip() or None
        id_number = (id_number or "").strip() or None
        if document.requires_identity and (applicant_name is None or id_number is None):
            raise IdentityRequiredError(document_code)
        cleaned = workflow.check_dossier(document, dossier)
        for _ in range(_NEW_REFERENCE_TRIES):
            request = workflow.submitted(
                reference=self._new_reference(),
                document_code=document_code,
                owner_phone=owner_phone,
                at=self._clock(),
                applicant_name=applicant_name,
                id_number=id_number,
                dossier=cleaned,
                fee=document.fee,
                currency=document.currency,
                collect_fee=collect_fee,
            )
            try:
                with self._engine.begin() as conn:
                    self._insert_request(conn, request, idempotency_key, sealed_fields(document))
                return request
            except exc.IntegrityError:
                # Either the key raced with a twin call, or the random reference is taken.
                existing = self._request_by_key(idempotency_key)
                if existing is not None:
                    return existing
        raise BackendUnavailableError("could not allocate a free request reference")

    def _insert_request(
        self, conn: Connection, request: DocumentRequest, key: str, sealed: frozenset[str]
    ) -> None:
        conn.execute(
            requests.insert().values(
                reference=request.reference,
                document_code=request.document_code,
                owner_phone=request.owner_phone,
                status=request.status.value,
                created_at=request.created_at,
                applicant_name=request.applicant_name,
                id_number=self._cipher.seal(request.id_number),
                reason=request.reason,
                pickup=request.pickup,
                reason_code=request.reason_code,
                office_id=request.office_id,
                idempotency_key=key,
                version=len(request.history),
                dossier=self._cipher.seal_dossier(request.dossier, sealed),
                fee=request.fee,
                currency=request.currency,
                fee_status=request.fee_status.value,
            )
        )
        conn.execute(
            request_history.insert(),
            [_history_values(request.reference, seq, c) for seq, c in enumerate(request.history)],
        )

    def _request_by_key(self, key: str) -> DocumentRequest | None:
        with self._read() as conn:
            row = conn.execute(sa.select(requests).where(requests.c.idempotency_key == key)).first()
            return None if row is None else self._opened(_load_requests(conn, [row])[0])

    @_guarded
    def get_request(self, reference: str) -> DocumentRequest | None:
        """Return a request by reference."""
        with self._read() as conn:
            row = conn.execute(sa.select(requests).where(requests.c.reference == reference)).first()
            return None if row is None else self._opened(_load_requests(conn, [row])[0])

    @_guarded
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
        query = sa.select(requests)
        if created_before is not None:
            query = query.where(requests.c.created_at < created_before)
        if owner_phone is not None:
            query = query.where(requests.c.owner_phone == owner_phone)
        if status is not None:
            query = query.where(requests.c.status == status.value)
        query = query.order_by(requests.c.created_at.desc(), requests.c.reference.desc())
        query = query.limit(max(0, limit)).offset(max(0, offset))
        with self._read() as conn:
            return [self._opened(r) for r in _load_requests(conn, conn.execute(query).all())]

    def _opened(self, request: DocumentRequest) -> DocumentRequest:
        return dataclasses.replace(
            request,
            id_number=self._cipher.open(request.id_number),
            dossier=self._cipher.open_dossier(request.dossier),
        )

    @_guarded
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
    ) -> DocumentRequest:
        """Apply an agent's decision; raise IllegalTransitionError, FeeUnpaidError, ..."""
        for _ in range(_DECIDE_TRIES):
            current = self.get_request(reference)
            if current is None:
                raise UnknownRequestError(reference)
            updated = workflow.apply(
                current,
                decision,
                agent_id=agent_id,
                at=self._clock(),
                document=self.get_document_type(current.document_code),
                office_ids=[o.id for o in self.list_offices()],
                reason=reason,
                pickup=pickup,
                reason_code=reason_code,
                office_id=office_id,
            )
            if self._commit(current, updated):
                return updated
            # Another agent decided in between: re-read and judge again from the new status.
        raise BackendUnavailableError("the request kept changing; try again")

    @_guarded
    def record_fee_payment(self, payment: FeePayment) -> RecordOutcome:
        """Settle a request's fee (awaiting_payment/expired -> submitted); idempotent by id."""
        for _ in range(_DECIDE_TRIES):
            current = self.get_request(payment.reference)
            if current is None:
                return RecordOutcome.UNKNOWN_REQUEST
            with self._read() as conn:
                paid_by = conn.execute(
                    sa.select(requests.c.fee_payment_id).where(
                        requests.c.reference == payment.reference
                    )
                ).scalar_one_or_none()
            if paid_by == payment.payment_id:
                return RecordOutcome.ALREADY_RECORDED
            if current.fee_status is not FeeStatus.DUE:
                return RecordOutcome.FEE_ALREADY_SETTLED
            if payment.amount != current.fee or payment.currency != current.currency:
                return RecordOutcome.AMOUNT_MISMATCH
            updated = workflow.fee_paid(current, payment)
            if self._commit(current, updated, fee_payment_id=payment.payment_id):
                return RecordOutcome.RECORDED
        raise BackendUnavailableError("the request kept changing; try again")

    @_guarded
    def expire_request(self, reference: str) -> DocumentRequest | None:
        """Move a request still awaiting payment to expired; None when it is not awaiting."""
        for _ in range(_DECIDE_TRIES):
            current = self.get_request(reference)
            if current is None:
                return None
            try:
                updated = workflow.expired(current, self._clock())
            except IllegalTransitionError:
                return None
            if self._commit(current, updated):
                return updated
        raise BackendUnavailableError("the request kept changing; try again")

    def _commit(self, current: DocumentRequest, updated: DocumentRequest, **extra: Any) -> bool:
        """Write `updated` and its new history entry if nobody changed `current` since."""
        seen = len(current.history)
        with self._engine.begin() as conn:
            moved = conn.execute(
                requests.update()
                .where(requests.c.reference == current.reference, requests.c.version == seen)
                .values(
                    status=updated.status.value,
                    reason=updated.reason,
                    pickup=updated.pickup,
                    reason_code=updated.reason_code,
                    office_id=updated.office_id,
                    fee_status=updated.fee_status.value,
                    fee_receipt=updated.fee_receipt,
                    version=seen + 1,
                    **extra,
                )
            )
            if moved.rowcount != 1:
                return False
            conn.execute(
                request_history.insert().values(
                    _history_values(current.reference, seen, updated.history[-1])
                )
            )
            return True

    # --- citizens -------------------------------------------------------------------------

    @_guarded
    def get_citizen(self, phone: str) -> Citizen | None:
        """Return the citizen with this phone, if known."""
        with self._read() as conn:
            row = conn.execute(sa.select(citizens).where(citizens.c.phone == phone)).first()
        if row is None:
            return None
        return Citizen(
            phone=row.phone,
            name=row.name,
            id_number=self._cipher.open(row.id_number),
            language=row.language,
        )

    @_guarded
    def save_citizen(self, citizen: Citizen) -> None:
        """Create or update a citizen."""
        values = {
            "name": citizen.name,
            "id_number": self._cipher.seal(citizen.id_number),
            "language": citizen.language,
        }
        for _ in range(2):
            try:
                with self._engine.begin() as conn:
                    changed = conn.execute(
                        citizens.update().where(citizens.c.phone == citizen.phone).values(values)
                    )
                    if changed.rowcount == 0:
                        conn.execute(citizens.insert().values(phone=citizen.phone, **values))
                return
            except exc.IntegrityError:
                continue  # inserted concurrently: the update on the next round wins
        raise BackendUnavailableError("could not save the citizen")


def _payment_exists(conn: Connection, payment_id: str) -> bool:
    found = conn.execute(
        sa.select(payments.c.payment_id).where(payments.c.payment_id == payment_id)
    ).first()
    return found is not None


def _assessment(row: sa.Row[Any]) -> Assessment:
    return Assessment(
        id=row.id,
        tax_code=row.tax_code,
        reference=row.reference,
        amount=int(row.amount),
        currency=row.currency,
        period=row.period,
        due_date=row.due_date,
        paid=bool(row.paid),
        paid_at=row.paid_at,
    )


def _document_type(row: sa.Row[Any]) -> DocumentType:
    return DocumentType(
        code=row.code,
        names=dict(row.names),
        fee=int(row.fee),
        currency=row.currency,
        required_documents={k: tuple(v) for k, v in row.required_documents.items()},
        needs_visit=bool(row.needs_visit),
        requires_identity=bool(row.requires_identity),
        delay_days=int(row.delay_days),
        office=dict(row.office),
        fields=codec.fields_from_json(row.fields or []),
        at_counter={k: tuple(v) for k, v in (row.at_counter or {}).items()},
        reasons=reasons_from_rows(row.reasons or []),
    )


def reasons_from_rows(raw: Sequence[Any]) -> tuple[Reason, ...]:
    """Read the `reasons` of a document type as stored (JSON): code, decisions, texts."""
    return tuple(
        Reason(
            code=str(item["code"]),
            decisions=tuple(Decision(d) for d in item["decisions"]),
            texts={str(k): str(v) for k, v in item["texts"].items()},
        )
        for item in raw
    )


def reasons_to_rows(reasons: Sequence[Reason]) -> list[dict[str, Any]]:
    """Return the JSON form of a document type's reasons."""
    return [
        {"code": r.code, "decisions": [d.value for d in r.decisions], "texts": dict(r.texts)}
        for r in reasons
    ]


def _office(row: sa.Row[Any]) -> Office:
    return Office(
        id=row.id,
        names=dict(row.names),
        address=dict(row.address),
        hours=dict(row.hours),
    )


def _history_values(reference: str, seq: int, change: StatusChange) -> dict[str, Any]:
    return {
        "reference": reference,
        "seq": seq,
        "status": change.status.value,
        "at": change.at,
        "agent_id": change.agent_id,
        "reason": change.reason,
        "pickup": change.pickup,
        "reason_code": change.reason_code,
        "office_id": change.office_id,
        "event": None if change.event is None else change.event.value,
    }


def _load_requests(conn: Connection, rows: Sequence[sa.Row[Any]]) -> list[DocumentRequest]:
    if not rows:
        return []
    refs = [r.reference for r in rows]
    # The row and its history are two reads: keep only the entries the row's version counts,
    # so a decision committed in between never shows a history ahead of its status.
    versions = {r.reference: r.version for r in rows}
    changes: dict[str, list[StatusChange]] = {ref: [] for ref in refs}
    history = conn.execute(
        sa.select(request_history)
        .where(request_history.c.reference.in_(refs))
        .order_by(request_history.c.reference, request_history.c.seq)
    ).all()
    for h in history:
        if h.seq >= versions[h.reference]:
            continue
        changes[h.reference].append(
            StatusChange(
                status=RequestStatus(h.status),
                at=h.at,
                agent_id=h.agent_id,
                reason=h.reason,
                pickup=h.pickup,
                reason_code=h.reason_code,
                office_id=h.office_id,
                event=HistoryEvent(h.event) if h.event else None,
            )
        )
    return [
        DocumentRequest(
            reference=r.reference,
            document_code=r.document_code,
            owner_phone=r.owner_phone,
            status=RequestStatus(r.status),
            created_at=r.created_at,
            history=tuple(changes[r.reference]),
            applicant_name=r.applicant_name,
            id_number=r.id_number,
            reason=r.reason,
            pickup=r.pickup,
            reason_code=r.reason_code,
            office_id=r.office_id,
            dossier=dict(r.dossier or {}),
            fee=int(r.fee or 0),
            currency=r.currency or "",
            fee_status=FeeStatus(r.fee_status) if r.fee_status else FeeStatus.NONE,
            fee_receipt=r.fee_receipt,
        )
        for r in rows
    ]
