"""What a payable is called: its kind's receipt text, filled with its period and reference.

One definition for the receipt SMS, receipt checks (USSD, SMS `RECU`, the receipts API) and
the USSD journey, so every channel says "Frais scolaires T1 2026-27" the same way.
"""

from __future__ import annotations

from typing import Final

from civic.ports import Backend, Localized, Payable, PayableKind

WHAT_MAX: Final = 30  # the `tax` / `receipt_tax` placeholders (sms_templates.yaml, menus.yaml)


def receipt_texts(kind: PayableKind, payable: Payable) -> dict[str, str]:
    """Return what a receipt of `payable` says, per language."""
    return {
        lang: text.replace("{period}", payable.period).replace("{reference}", payable.reference)
        for lang, text in kind.receipt.items()
    }


def kind_of(backend: Backend, code: str) -> PayableKind | None:
    """Return the payable kind `code`, if the catalogue declares it."""
    return next((k for k in backend.list_payable_kinds() if k.code == code), None)


def payable_names(backend: Backend, payable_id: str) -> Localized:
    """Return what was paid for the payable `payable_id`, per language ({} when unknown)."""
    payable = backend.get_payable(payable_id)
    kind = kind_of(backend, payable.kind) if payable is not None else None
    if payable is None or kind is None:
        return {}
    return receipt_texts(kind, payable)
