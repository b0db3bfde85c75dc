"""Receipts found again: check a code, list a phone's receipts, describe one in a language.

The one place that turns a stored receipt into what a citizen reads: what was paid (through
payments.paid_for), the amount, the date in the city's format (dd/mm/yyyy) and the code.
USSD "My payments" and receipt checks, SMS `RECU` (as sms.receipt_desk.ReceiptDesk) and the
"already paid" screens use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from sqlalchemy.exc import SQLAlchemyError

from civic.ports import Backend, BackendUnavailableError
from payments.paid_for import describe, paid_for_receipt
from payments.receipt_store import ReceiptStore, StoredReceipt
from payments.receipts import ReceiptVerifier, VerificationStatus
from sms.receipt_desk import ReceiptAnswer

DATE_FORMAT: Final = "%d/%m/%Y"  # the city's date format on every screen and SMS


def city_date(day: date) -> str:
    """Return `day` as citizens read it (30/11/2026)."""
    return day.strftime(DATE_FORMAT)


@dataclass(frozen=True, slots=True)
class ReceiptView:
    """A receipt as shown to a citizen, in their language."""

    code: str
    amount: int
    currency: str
    what: str  # the tax's or the document's name
    reference: str
    date: str  # dd/mm/yyyy


class ReceiptBook:
    """Receipts by code or by phone, described in the citizen's language."""

    def __init__(self, store: ReceiptStore, verifier: ReceiptVerifier, backend: Backend) -> None:
        self._store = store
        self._verifier = verifier
        self._backend = backend

    def check(self, code: str, lang: str) -> ReceiptAnswer:
        """Verify `code` (dashes and spaces allowed); describe it in `lang` when valid."""
        try:
            result = self._verifier.verify(code)
        except SQLAlchemyError as exc:
            raise BackendUnavailableError("payments database") from exc
        if result.status is not VerificationStatus.VALID:
            return ReceiptAnswer(result.status.value, result.code)
        assert result.date is not None and result.tax is not None
        reference = result.reference or ""
        what = describe(self._backend, paid_for_receipt(result.kind, result.tax, reference), lang)
        view = ReceiptView(
            code=result.code,
            amount=result.amount or 0,
            currency=result.currency or "",
            what=what,
            reference=reference,
            date=city_date(result.date),
        )
        return ReceiptAnswer(
            "valid",
            view.code,
            {
                "amount": view.amount,
                "currency": view.currency,
                "tax": view.what,
                "ref": view.reference,
                "date": view.date,
            },
        )

    def mine(self, phone: str, lang: str, limit: int = 30) -> list[ReceiptView]:
        """Return the receipts of payments made from `phone`, newest first, in `lang`."""
        return [self._view(r, lang) for r in self._store.receipts_for_phone(phone, limit)]

    def latest_codes(self, phone: str, limit: int) -> list[str]:
        """Return the codes of the receipts paid from `phone`, newest first."""
        try:
            return [r.code for r in self._store.receipts_for_phone(phone, limit)]
        except SQLAlchemyError as exc:  # the SMS reply says "try later"
            raise BackendUnavailableError("payments database") from exc

    def code_for_assessment(self, assessment_id: str) -> str | None:
        """Return the receipt code of a paid assessment, when we issued it."""
        return self._store.receipt_code_for_assessment(assessment_id)

    def _view(self, receipt: StoredReceipt, lang: str) -> ReceiptView:
        return ReceiptView(
            code=receipt.code,
            amount=receipt.amount,
            currency=receipt.currency,
            what=describe(self._backend, receipt.paid_for, lang),
            reference=receipt.paid_for.reference,
            date=city_date(receipt.paid_on),
        )
