"""What a payment paid for, in the citizen's words: one record and one function for every kind.

The receipt SMS, the failure SMS, USSD "My payments" and receipt checks, and SMS `RECU` all
name what was paid through `describe`. A kind of payment says which catalogue names its code:
a tax assessment names the tax (`road` -> "Taxe de voirie"), a request fee the document, a
payable (code: its id) what its kind's `receipt` says for its period ("Frais scolaires T1
2026-27"). A new kind is one member of payments.model.PaymentKind and one line in `_names`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from civic.payables import payable_names
from civic.ports import Backend
from payments.model import Intent, PaymentKind


@dataclass(frozen=True, slots=True)
class PaidFor:
    """The subject of one payment: its kind, the catalogue code and the reference."""

    kind: PaymentKind
    code: str
    reference: str


def describe(backend: Backend, paid_for: PaidFor, lang: str) -> str:
    """Return the name of what was paid in `lang` (else French, else any; never a raw code)."""
    names = _names(backend, paid_for)
    return names.get(lang) or names.get("fr") or next(iter(names.values()), paid_for.code)


def described(backend: Backend, paid_for: PaidFor) -> dict[str, str]:
    """Return the name of what was paid in every language the catalogue has (the API's)."""
    return dict(_names(backend, paid_for))


def _names(backend: Backend, paid_for: PaidFor) -> Mapping[str, str]:
    if paid_for.kind is PaymentKind.REQUEST_FEE:
        document = backend.get_document_type(paid_for.code)
        return document.names if document is not None else {}
    if paid_for.kind is PaymentKind.PAYABLE:
        return payable_names(backend, paid_for.code)
    return next((t.names for t in backend.list_tax_types() if t.code == paid_for.code), {})


def paid_for_receipt(kind: str | None, item_code: str, reference: str) -> PaidFor:
    """Return what a receipt row (its kind, item code and reference) paid for."""
    return PaidFor(PaymentKind(kind or PaymentKind.TAX_ASSESSMENT.value), item_code, reference)


def paid_for_intent(intent: Intent) -> PaidFor:
    """Return what `intent` pays for."""
    return PaidFor(intent.kind, intent.tax_code, intent.assessment_reference)
