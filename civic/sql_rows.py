"""Rows of the civic tables to civic.ports records and back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from civic import codec
from civic.ports import (
    Assessment,
    Decision,
    DocumentRequest,
    DocumentType,
    FeeStatus,
    HistoryEvent,
    Office,
    Reason,
    RequestStatus,
    StatusChange,
)
from civic.sql_tables import request_history


def assessment_from_row(row: sa.Row[Any]) -> Assessment:
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


def document_type_from_row(row: sa.Row[Any]) -> DocumentType:
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


def office_from_row(row: sa.Row[Any]) -> Office:
    return Office(
        id=row.id,
        names=dict(row.names),
        address=dict(row.address),
        hours=dict(row.hours),
    )


def history_values(reference: str, seq: int, change: StatusChange) -> dict[str, Any]:
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


def load_requests(conn: Connection, rows: Sequence[sa.Row[Any]]) -> list[DocumentRequest]:
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
