"""JSON shapes of the domain types (docs/openapi/city-portal.yaml), both directions.

The HTTP adapter reads a city portal's answers with these; the fake portal and the agents' API
write them. Readers raise ValueError on anything malformed so an adapter can report the
portal as unavailable instead of crashing a hop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from civic import workflows
from civic.ports import (
    Assessment,
    Citizen,
    Decision,
    DocumentField,
    DocumentRequest,
    DocumentType,
    FeePayment,
    FeeStatus,
    FieldChoice,
    HistoryEvent,
    Office,
    PayablePayment,
    PaymentRecord,
    Reason,
    RequestStatus,
    StatusChange,
    TaxType,
)

Json = dict[str, Any]


def when(value: datetime) -> str:
    """Return an instant as the contract writes it (ISO 8601, UTC, `Z`)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_when = when


def parse_when(value: Any) -> datetime:
    """Read an instant written by `when` (or any ISO 8601 with an offset)."""
    return _parse_when(value)


def _parse_when(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _opt_when(value: Any) -> datetime | None:
    return None if value is None else _parse_when(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def localized(value: Any) -> dict[str, str]:
    """Read a text per language (language -> text)."""
    if not isinstance(value, Mapping):
        raise ValueError("a localized text is an object of language -> text")
    return {str(k): str(v) for k, v in value.items()}


def whole(value: Any) -> int:
    """Read an amount: a whole number (JSON true is not 1 franc)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("amount is a whole number")
    return value


def tax_type_to_json(tax: TaxType) -> Json:
    """Return the JSON form of a tax type."""
    return {"code": tax.code, "names": dict(tax.names)}


def tax_type_from_json(raw: Mapping[str, Any]) -> TaxType:
    """Read a tax type."""
    return TaxType(code=str(raw["code"]), names=localized(raw["names"]))


def assessment_to_json(item: Assessment) -> Json:
    """Return the JSON form of an assessment."""
    return {
        "id": item.id,
        "tax_code": item.tax_code,
        "reference": item.reference,
        "amount": item.amount,
        "currency": item.currency,
        "period": item.period,
        "due_date": item.due_date.isoformat(),
        "paid": item.paid,
        "paid_at": None if item.paid_at is None else _when(item.paid_at),
    }


def assessment_from_json(raw: Mapping[str, Any]) -> Assessment:
    """Read an assessment."""
    amount = raw["amount"]
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise ValueError("amount is a whole number")
    return Assessment(
        id=str(raw["id"]),
        tax_code=str(raw["tax_code"]),
        reference=str(raw["reference"]),
        amount=amount,
        currency=str(raw["currency"]),
        period=str(raw["period"]),
        due_date=date.fromisoformat(str(raw["due_date"])),
        paid=bool(raw["paid"]),
        paid_at=_opt_when(raw.get("paid_at")),
    )


def fields_to_json(fields: tuple[DocumentField, ...]) -> list[Json]:
    """Return the JSON form of a document's dossier fields."""
    out: list[Json] = []
    for spec in fields:
        item: Json = {
            "key": spec.key,
            "labels": dict(spec.labels),
            "validator": spec.validator,
            "required": spec.required,
        }
        if spec.pattern is not None:
            item["pattern"] = spec.pattern
        if spec.choices:
            item["choices"] = [{"value": c.value, "labels": dict(c.labels)} for c in spec.choices]
        out.append(item)
    return out


def fields_from_json(raw: Any) -> tuple[DocumentField, ...]:
    """Read a document's dossier fields (the catalogue's `fields:` has the same shape)."""
    if not isinstance(raw, list):
        raise ValueError("fields is a list")
    return tuple(
        DocumentField(
            key=str(item["key"]),
            labels=localized(item["labels"]),
            validator=str(item["validator"]),
            required=bool(item.get("required", True)),
            pattern=_opt_str(item.get("pattern")),
            choices=tuple(
                FieldChoice(value=str(c["value"]), labels=localized(c["labels"]))
                for c in item.get("choices") or ()
            ),
        )
        for item in raw
    )


def _lists(raw: Any, name: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{name} is an object of language -> list")
    return {str(k): tuple(str(i) for i in v) for k, v in raw.items()}


def document_type_to_json(doc: DocumentType) -> Json:
    """Return the JSON form of a document type."""
    return {
        "code": doc.code,
        "names": dict(doc.names),
        "fee": doc.fee,
        "currency": doc.currency,
        "required_documents": {lang: list(items) for lang, items in doc.required_documents.items()},
        "needs_visit": doc.needs_visit,
        "requires_identity": doc.requires_identity,
        "delay_days": doc.delay_days,
        "office": dict(doc.office),
        "reasons": [
            {"code": r.code, "decisions": [d.value for d in r.decisions], "texts": dict(r.texts)}
            for r in doc.reasons
        ],
        "fields": fields_to_json(doc.fields),
        "at_counter": {lang: list(items) for lang, items in doc.at_counter.items()},
        "kind": doc.kind,
        "transitions": workflows.to_json(doc.transitions),
        "appointment_service": doc.appointment_service,
    }


def document_type_from_json(raw: Mapping[str, Any]) -> DocumentType:
    """Read a document type."""
    required = raw["required_documents"]
    if not isinstance(required, Mapping):
        raise ValueError("required_documents is an object of language -> list")
    return DocumentType(
        code=str(raw["code"]),
        names=localized(raw["names"]),
        fee=int(raw["fee"]),
        currency=str(raw["currency"]),
        required_documents={str(k): tuple(str(i) for i in v) for k, v in required.items()},
        needs_visit=bool(raw["needs_visit"]),
        requires_identity=bool(raw["requires_identity"]),
        delay_days=int(raw["delay_days"]),
        office=localized(raw["office"]),
        fields=fields_from_json(raw.get("fields") or []),
        at_counter=_lists(raw.get("at_counter") or {}, "at_counter"),
        kind=str(raw.get("kind") or workflows.DOCUMENT_KIND),
        transitions=workflows.from_json(raw.get("transitions")),
        appointment_service=str(raw["appointment_service"])
        if raw.get("appointment_service")
        else None,
        reasons=tuple(
            Reason(
                code=str(item["code"]),
                decisions=tuple(Decision(d) for d in item["decisions"]),
                texts=localized(item["texts"]),
            )
            for item in raw.get("reasons") or ()
        ),
    )


def office_to_json(office: Office) -> Json:
    """Return the JSON form of an office."""
    return {
        "id": office.id,
        "names": dict(office.names),
        "address": dict(office.address),
        "hours": dict(office.hours),
    }


def office_from_json(raw: Mapping[str, Any]) -> Office:
    """Read an office."""
    return Office(
        id=str(raw["id"]),
        names=localized(raw["names"]),
        address=localized(raw["address"]),
        hours=localized(raw["hours"]),
    )


def status_change_to_json(change: StatusChange) -> Json:
    """Return the JSON form of one history entry."""
    return {
        "status": change.status.value,
        "at": _when(change.at),
        "agent_id": change.agent_id,
        "reason": change.reason,
        "pickup": change.pickup,
        "reason_code": change.reason_code,
        "office_id": change.office_id,
        "event": None if change.event is None else change.event.value,
    }


def request_to_json(item: DocumentRequest) -> Json:
    """Return the JSON form of a document request, history included."""
    return {
        "reference": item.reference,
        "document_code": item.document_code,
        "owner_phone": item.owner_phone,
        "status": item.status.value,
        "created_at": _when(item.created_at),
        "applicant_name": item.applicant_name,
        "id_number": item.id_number,
        "reason": item.reason,
        "pickup": item.pickup,
        "reason_code": item.reason_code,
        "office_id": item.office_id,
        "dossier": dict(item.dossier),
        "fee": {
            "amount": item.fee,
            "currency": item.currency,
            "status": item.fee_status.value,
            "receipt_code": item.fee_receipt,
        },
        "history": [status_change_to_json(c) for c in item.history],
    }


def request_from_json(raw: Mapping[str, Any]) -> DocumentRequest:
    """Read a document request."""
    return DocumentRequest(
        reference=str(raw["reference"]),
        document_code=str(raw["document_code"]),
        owner_phone=str(raw["owner_phone"]),
        status=RequestStatus(raw["status"]),
        created_at=_parse_when(raw["created_at"]),
        history=tuple(
            StatusChange(
                status=RequestStatus(c["status"]),
                at=_parse_when(c["at"]),
                agent_id=_opt_str(c.get("agent_id")),
                reason=_opt_str(c.get("reason")),
                pickup=_opt_str(c.get("pickup")),
                reason_code=_opt_str(c.get("reason_code")),
                office_id=_opt_str(c.get("office_id")),
                event=HistoryEvent(c["event"]) if c.get("event") else None,
            )
            for c in raw.get("history", [])
        ),
        applicant_name=_opt_str(raw.get("applicant_name")),
        id_number=_opt_str(raw.get("id_number")),
        reason=_opt_str(raw.get("reason")),
        pickup=_opt_str(raw.get("pickup")),
        reason_code=_opt_str(raw.get("reason_code")),
        office_id=_opt_str(raw.get("office_id")),
        dossier=_dossier(raw.get("dossier")),
        **_fee(raw.get("fee")),
    )


def _dossier(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError("dossier is an object of field -> text")
    return {str(k): str(v) for k, v in raw.items()}


def _fee(raw: Any) -> dict[str, Any]:
    if raw is None:  # a portal that predates fees: a free document
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError("fee is an object")
    amount = raw.get("amount", 0)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ValueError("fee.amount is a whole number")
    return {
        "fee": amount,
        "currency": str(raw.get("currency") or ""),
        "fee_status": FeeStatus(raw.get("status", "none")),
        "fee_receipt": _opt_str(raw.get("receipt_code")),
    }


PaidRecord = TypeVar("PaidRecord", PaymentRecord, FeePayment, PayablePayment)


def paid_to_json(record: PaymentRecord | FeePayment | PayablePayment) -> Json:
    """Return the JSON form of a payment the back office records (a tax, a fee, a payable).

    The three differ only by what was paid (`assessment_id`, `reference`, `payable_id`): one
    writer and one reader serve them, field for field.
    """
    data: Json = {field.name: getattr(record, field.name) for field in fields(record)}
    data["paid_at"] = when(record.paid_at)
    return data


def paid_from_json(kind: type[PaidRecord], raw: Mapping[str, Any]) -> PaidRecord:
    """Read a payment of `kind` written by `paid_to_json`."""
    values: Json = {field.name: str(raw[field.name]) for field in fields(kind)}
    values.update(amount=whole(raw["amount"]), paid_at=_parse_when(raw["paid_at"]))
    return kind(**values)


def citizen_to_json(citizen: Citizen) -> Json:
    """Return the JSON form of a citizen."""
    return {
        "phone": citizen.phone,
        "name": citizen.name,
        "id_number": citizen.id_number,
        "language": citizen.language,
    }


def citizen_from_json(raw: Mapping[str, Any]) -> Citizen:
    """Read a citizen."""
    return Citizen(
        phone=str(raw["phone"]),
        name=_opt_str(raw.get("name")),
        id_number=_opt_str(raw.get("id_number")),
        language=_opt_str(raw.get("language")),
    )
