"""Payable kinds, payables and their payments as the city-portal contract writes them in JSON
(docs/openapi/city-portal.yaml); the portal's and our adapters' one definition."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from civic.codec import Json, localized, parse_when, when, whole
from civic.ports import Payable, PayableKind


def payable_kind_to_json(kind: PayableKind) -> Json:
    """Return the JSON form of a payable kind."""
    return {
        "code": kind.code,
        "names": dict(kind.names),
        "reference_label": dict(kind.reference_label),
        "pattern": kind.pattern,
        "receipt": dict(kind.receipt),
    }


def payable_kind_from_json(raw: Mapping[str, Any]) -> PayableKind:
    """Read a payable kind."""
    return PayableKind(
        code=str(raw["code"]),
        names=localized(raw["names"]),
        reference_label=localized(raw["reference_label"]),
        pattern=str(raw["pattern"]),
        receipt=localized(raw["receipt"]),
    )


def payable_to_json(item: Payable) -> Json:
    """Return the JSON form of a payable."""
    return {
        "id": item.id,
        "kind": item.kind,
        "reference": item.reference,
        "payer": item.payer,
        "amount": item.amount,
        "currency": item.currency,
        "period": item.period,
        "due_date": item.due_date.isoformat(),
        "paid": item.paid,
        "paid_at": None if item.paid_at is None else when(item.paid_at),
        "receipt_code": item.receipt_code,
    }


def payable_from_json(raw: Mapping[str, Any]) -> Payable:
    """Read a payable."""
    paid_at, receipt = raw.get("paid_at"), raw.get("receipt_code")
    return Payable(
        id=str(raw["id"]),
        kind=str(raw["kind"]),
        reference=str(raw["reference"]),
        payer=str(raw["payer"]),
        amount=whole(raw["amount"]),
        currency=str(raw["currency"]),
        period=str(raw["period"]),
        due_date=date.fromisoformat(str(raw["due_date"])),
        paid=bool(raw["paid"]),
        paid_at=None if paid_at is None else parse_when(paid_at),
        receipt_code=None if receipt is None else str(receipt),
    )
