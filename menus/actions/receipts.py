"""Check a receipt code typed on the keypad (valid / unknown / mistyped)."""

from __future__ import annotations

from civic.ports import Backend
from menus.registry import ActionContext, ActionResult, actions
from payments.receipts import ReceiptVerifier, VerificationStatus


def _money(amount: int) -> str:
    return f"{amount:,}".replace(",", " ")


@actions.register("receipts.verify", outcomes={"valid", "unknown", "mistyped", "error"})
def verify(ctx: ActionContext) -> ActionResult:
    """Verify the code saved as `receipt_input` and leave the receipt for the screens."""
    result = ctx.services.get(ReceiptVerifier).verify(str(ctx.data.get("receipt_input", "")))
    data: dict[str, str] = {"receipt_code": result.code}
    if result.status is not VerificationStatus.VALID:
        return ActionResult(outcome=result.status.value, data=data)
    backend: Backend = ctx.services.get(Backend)  # type: ignore[type-abstract]
    names = next((t.names for t in backend.list_tax_types() if t.code == result.tax), {})
    data.update(
        receipt_amount=_money(result.amount or 0),
        receipt_tax=names.get(ctx.lang) or names.get("fr") or str(result.tax),
        receipt_ref=str(result.reference),
        receipt_date=result.date.strftime("%d/%m/%Y") if result.date else "",
    )
    return ActionResult(outcome="valid", data=data)
