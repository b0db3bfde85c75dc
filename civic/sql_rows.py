"""Rows of the civic tables to civic.ports records and back, from one definition per record.

A column is named like the field it stores, so each record's mapping is derived from its
dataclass fields; only what differs is spelled here: how a value is decoded or encoded, the
bookkeeping columns no record shows, and the fields read from elsewhere (a request's history).
tests/civic/test_sql_rows.py checks that every table's columns are its record's fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from civic import codec, workflows
from civic.appointments import AppointmentService, Booking, BookingStatus, Counter
from civic.ports import (
    Assessment,
    Citizen,
    Decision,
    DocumentRequest,
    DocumentType,
    FeeStatus,
    HistoryEvent,
    Office,
    Payable,
    PayableKind,
    PayablePayment,
    PaymentRecord,
    Reason,
    RequestStatus,
    StatusChange,
    TaxType,
)
from civic.sql_tables import (
    appointment_services,
    appointments,
    assessments,
    citizens,
    document_types,
    offices,
    payable_kinds,
    payable_payments,
    payables,
    payments,
    request_history,
    requests,
    tax_types,
)

T = TypeVar("T")
Convert = Mapping[str, Callable[[Any], Any]]


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class RecordTable(Generic[T]):
    """One civic.ports record stored in one table, a column per field of the same name."""

    record: type[T]
    table: sa.Table
    decode: Convert = field(default_factory=dict)  # column value -> field value, where they differ
    encode: Convert = field(default_factory=dict)  # field value -> column value, where they differ
    table_only: frozenset[str] = frozenset()  # bookkeeping columns no record shows
    record_only: frozenset[str] = frozenset()  # fields not stored in this table

    @property
    def fields(self) -> tuple[str, ...]:
        """Return the record's fields stored as columns of the same name."""
        names = (f.name for f in dataclasses.fields(self.record))  # type: ignore[arg-type]
        return tuple(n for n in names if n not in self.record_only)

    def read(self, row: sa.Row[Any], **given: Any) -> T:
        """Return the record `row` holds; `given` supplies the fields stored elsewhere."""
        found = row._mapping
        values = {n: self.decode.get(n, _same)(found[n]) for n in self.fields}
        return self.record(**values, **given)

    def values(self, record: T, *names: str) -> dict[str, Any]:
        """Return the column values of `record` (of `names` only, when given)."""
        return {n: self.encode.get(n, _same)(getattr(record, n)) for n in names or self.fields}


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


def _items(raw: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in (raw or {}).items()}


def _optional_value(value: Any) -> Any:
    return None if value is None else value.value


TAX_TYPES: Final = RecordTable(
    TaxType, tax_types, decode={"names": dict}, table_only=frozenset({"position"})
)
ASSESSMENTS: Final = RecordTable(Assessment, assessments, decode={"amount": int, "paid": bool})
PAYMENTS: Final = RecordTable(PaymentRecord, payments)
DOCUMENT_TYPES: Final = RecordTable(
    DocumentType,
    document_types,
    decode={
        "names": dict,
        "fee": int,
        "required_documents": _items,
        "needs_visit": bool,
        "requires_identity": bool,
        "delay_days": int,
        "office": dict,
        "fields": lambda v: codec.fields_from_json(v or []),
        "at_counter": _items,
        "reasons": lambda v: reasons_from_rows(v or []),
        "kind": lambda v: v or workflows.DOCUMENT_KIND,  # NULL in rows older than kinds (v6)
        "transitions": workflows.from_json,
    },
    encode={"transitions": workflows.to_json},
    table_only=frozenset({"position"}),
)
OFFICES: Final = RecordTable(
    Office,
    offices,
    decode={"names": dict, "address": dict, "hours": dict},
    table_only=frozenset({"position"}),
)
HISTORY: Final = RecordTable(
    StatusChange,
    request_history,
    decode={"status": RequestStatus, "event": lambda v: HistoryEvent(v) if v else None},
    encode={"status": _optional_value, "event": _optional_value},
    # The request's, the entry's place in it, and whether its SMS alert is still owed.
    table_only=frozenset({"reference", "seq", "announce"}),
)
REQUESTS: Final = RecordTable(
    DocumentRequest,
    requests,
    decode={
        "status": RequestStatus,
        "dossier": lambda v: dict(v or {}),  # NULL in rows older than dossiers (version 1)
        "fee": lambda v: int(v or 0),
        "currency": lambda v: v or "",
        "fee_status": lambda v: FeeStatus(v) if v else FeeStatus.NONE,
    },
    encode={"status": _optional_value, "dossier": dict, "fee_status": _optional_value},
    # idempotency_key: the creating call's; version: the history's length (optimistic
    # updates); fee_payment_id: the payment that settled the fee (idempotency).
    table_only=frozenset({"idempotency_key", "version", "fee_payment_id"}),
    record_only=frozenset({"history"}),  # rows of request_history
)
CITIZENS: Final = RecordTable(Citizen, citizens)
PAYABLE_KINDS: Final = RecordTable(
    PayableKind,
    payable_kinds,
    decode={"names": dict, "reference_label": dict, "receipt": dict},
    table_only=frozenset({"position"}),
)
PAYABLES: Final = RecordTable(Payable, payables, decode={"amount": int, "paid": bool})
PAYABLE_PAYMENTS: Final = RecordTable(PayablePayment, payable_payments, decode={"amount": int})


def _counters(raw: Sequence[Mapping[str, Any]]) -> tuple[Counter, ...]:
    return tuple(Counter(str(c["id"]), dict(c["names"])) for c in raw)


def _hours(raw: Mapping[str, Sequence[Sequence[int]]]) -> dict[int, tuple[tuple[int, int], ...]]:
    return {int(day): tuple((int(a), int(b)) for a, b in spans) for day, spans in raw.items()}


SERVICES: Final = RecordTable(
    AppointmentService,
    appointment_services,
    decode={
        "names": dict,
        "place": dict,
        "counters": _counters,
        "hours": _hours,
        "closed_days": lambda v: frozenset(date.fromisoformat(d) for d in v),
    },
    encode={
        "names": dict,
        "place": dict,
        "counters": lambda v: [{"id": c.id, "names": dict(c.names)} for c in v],
        "hours": lambda v: {str(d): [list(span) for span in spans] for d, spans in v.items()},
        "closed_days": lambda v: sorted(d.isoformat() for d in v),
    },
    table_only=frozenset({"position"}),
)
BOOKINGS: Final = RecordTable(
    Booking,
    appointments,
    decode={"status": BookingStatus},
    encode={"status": _optional_value},
    # seat: the place held (NULL once cancelled); remind_*: the reminder window (UTC);
    # idempotency_key: the booking call's.
    table_only=frozenset({"seat", "remind_from", "remind_until", "idempotency_key"}),
)

RECORD_TABLES: Final[tuple[RecordTable[Any], ...]] = (
    TAX_TYPES,
    ASSESSMENTS,
    PAYMENTS,
    DOCUMENT_TYPES,
    OFFICES,
    HISTORY,
    REQUESTS,
    CITIZENS,
    PAYABLE_KINDS,
    PAYABLES,
    PAYABLE_PAYMENTS,
    SERVICES,
    BOOKINGS,
)


def history_values(
    reference: str, seq: int, change: StatusChange, *, announce: bool = False
) -> dict[str, Any]:
    """Return the request_history row of `reference`'s entry number `seq` (0-based).

    `announce` marks the entry's SMS alert as owed (sms.request_alerts clears it).
    """
    return {
        "reference": reference,
        "seq": seq,
        "announce": True if announce else None,
        **HISTORY.values(change),
    }


def load_requests(conn: Connection, rows: Sequence[sa.Row[Any]]) -> list[DocumentRequest]:
    """Return the requests of `rows`, each with the history its version counts."""
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
        changes[h.reference].append(HISTORY.read(h))
    return [REQUESTS.read(r, history=tuple(changes[r.reference])) for r in rows]
