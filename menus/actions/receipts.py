"""Receipts on USSD: check a code, "My payments" (this phone's receipts), the code of a paid
assessment. Words come from menus.yaml; what was paid and the date come from ReceiptBook."""

from __future__ import annotations

from typing import Final

from menus.model import MenuSpec
from menus.registry import ActionContext, ActionResult, Option, actions
from payments.receipt_book import ReceiptBook

MY_PAYMENTS_LIMIT: Final = 30  # the engine pages the list; older ones: SMS RECU <code>
WHAT_LABEL_MAX: Final = 20
PAYMENT_LABEL_MAX: Final = 10 + 1 + 11 + 1 + WHAT_LABEL_MAX  # "30/11/2026 127 500 Taxe ..."


def _money(ctx: ActionContext, amount: int) -> str:
    return ctx.services.get(MenuSpec).city.money_format.number(amount)


@actions.register("receipts.verify", outcomes={"valid", "unknown", "mistyped", "error"})
def verify(ctx: ActionContext) -> ActionResult:
    """Verify the code saved as `receipt_input` and leave the receipt for the screens."""
    answer = ctx.services.get(ReceiptBook).check(str(ctx.data.get("receipt_input", "")), ctx.lang)
    data: dict[str, str] = {"receipt_code": answer.code}
    if answer.status != "valid":
        return ActionResult(outcome=answer.status, data=data)
    params = answer.params
    data.update(
        receipt_amount=_money(ctx, int(params["amount"])),
        receipt_tax=str(params["tax"]),
        receipt_ref=str(params["ref"]),
        receipt_date=str(params["date"]),
    )
    return ActionResult(outcome="valid", data=data)


@actions.register("receipts.mine", option_label_max=PAYMENT_LABEL_MAX)
def mine(ctx: ActionContext) -> ActionResult:
    """Offer this phone's receipts, newest first; choosing one saves its code."""
    views = ctx.services.get(ReceiptBook).mine(ctx.msisdn, ctx.lang, MY_PAYMENTS_LIMIT)
    return ActionResult(
        options=[
            Option(v.code, f"{v.date} {_money(ctx, v.amount)} {v.what[:WHAT_LABEL_MAX]}")
            for v in views
        ]
    )


@actions.register("receipts.of_assessment", outcomes={"found", "none", "error"})
def of_assessment(ctx: ActionContext) -> ActionResult:
    """Find the receipt code of the paid assessment saved as `assessment_id`."""
    code = ctx.services.get(ReceiptBook).code_for_assessment(str(ctx.data.get("assessment_id", "")))
    if code is None:
        return ActionResult(outcome="none")
    return ActionResult(outcome="found", data={"receipt_code": code})
