"""The payables journey's actions (school fees, licence renewals): choose a kind, look the
reference up, pay it through the same payment flow as taxes (payments.PaymentService).

What a kind is called, how its reference is labelled and checked, and what its receipt says
are catalogue data (civic.ports.PayableKind); the words around them are menus.yaml's.
"""

from __future__ import annotations

import re
from typing import Final

from civic.payables import kind_of, receipt_texts
from civic.ports import Backend, BackendUnavailableError, PayableKind
from civic.wording import local
from menus.actions.civic import money
from menus.actions.payments import START_OUTCOMES, started
from menus.registry import ActionContext, ActionResult, Option, actions
from payments.receipt_book import ReceiptBook
from payments.service import PAYABLE_SUBJECT, PaymentService, UnknownOperatorError

KIND_LABEL_MAX: Final = 30
KIND_VALUE: Final = "payable:"  # a payable kind's value in the tax list (taxes are bare codes)


def _backend(ctx: ActionContext) -> Backend:
    return ctx.services.get(Backend)  # type: ignore[type-abstract]


def _kind(ctx: ActionContext) -> PayableKind:
    code = str(ctx.data.get("payable_kind", ""))
    kind = kind_of(_backend(ctx), code) if code else None
    if kind is None:
        # The menu offered it a moment ago: the catalogue changed under us.
        raise BackendUnavailableError(f"payable kind {code!r} vanished")
    return kind


@actions.register("payables.kinds", option_label_max=KIND_LABEL_MAX)
def kinds(ctx: ActionContext) -> ActionResult:
    """Offer the kinds of payables (school fees, licences) in catalogue order."""
    return ActionResult(
        options=[
            Option(k.code, local(k.names, ctx.lang)) for k in _backend(ctx).list_payable_kinds()
        ]
    )


@actions.register("payables.taxes_and_kinds", option_label_max=KIND_LABEL_MAX)
def taxes_and_kinds(ctx: ActionContext) -> ActionResult:
    """Offer the city's taxes, then the payable kinds (the home menu has no key left)."""
    backend = _backend(ctx)
    return ActionResult(
        options=[
            *(Option(t.code, local(t.names, ctx.lang)) for t in backend.list_tax_types()),
            *(
                Option(KIND_VALUE + k.code, local(k.names, ctx.lang))
                for k in backend.list_payable_kinds()
            ),
        ]
    )


@actions.register("payables.route", outcomes={"tax", "payable", "error"})
def route(ctx: ActionContext) -> ActionResult:
    """Send a tax to its reference screen, a payable kind to its journey (with its words)."""
    chosen = str(ctx.data.get("tax_code", ""))
    if not chosen.startswith(KIND_VALUE):
        return ActionResult(outcome="tax")
    ctx_kind = chosen.removeprefix(KIND_VALUE)
    found = kind_of(_backend(ctx), ctx_kind)
    if found is None:
        raise BackendUnavailableError(f"payable kind {ctx_kind!r} vanished")
    return ActionResult(
        outcome="payable",
        data={
            "payable_kind": found.code,
            "kind_name": local(found.names, ctx.lang),
            "ref_label": local(found.reference_label, ctx.lang),
        },
    )


@actions.register(
    "payables.lookup", outcomes={"due", "paid", "paid_no_receipt", "not_found", "error"}
)
def lookup(ctx: ActionContext) -> ActionResult:
    """Find the payable of the chosen kind and typed reference (a pupil's term, a licence)."""
    chosen = _kind(ctx)
    reference = str(ctx.data.get("payable_ref", "")).strip()
    data: dict[str, str | int] = {"ref": reference}
    found = None
    if re.fullmatch(chosen.pattern, reference):
        found = _backend(ctx).find_payable(chosen.code, reference)
    if found is None:
        return ActionResult(outcome="not_found", data=data)
    data.update(
        # Left for the payment (payments.payable_start reads payable_id).
        payable_id=found.id,
        amount=found.amount,
        currency=found.currency,
        # For the screens.
        what=local(receipt_texts(chosen, found), ctx.lang),
        payer=found.payer,
        amount_text=money(ctx, found.amount),
        due_date=found.due_date.strftime("%d/%m/%Y"),
    )
    if not found.paid:
        return ActionResult(outcome="due", data=data)
    code = found.receipt_code or ctx.services.get(ReceiptBook).code_for_assessment(
        PAYABLE_SUBJECT.format(found.id)
    )
    if not code:
        return ActionResult(outcome="paid_no_receipt", data=data)  # paid at the school's desk
    return ActionResult(outcome="paid", data={**data, "receipt_code": code})


@actions.register(
    "payments.payable_start",
    outcomes=START_OUTCOMES,
)
def payable_start(ctx: ActionContext) -> ActionResult:
    """Persist the intent paying the payable saved as `payable_id` and queue its push."""
    service = ctx.services.get(PaymentService)
    payable = _backend(ctx).get_payable(str(ctx.data.get("payable_id", "")))
    if payable is None:
        return ActionResult(outcome="error")
    try:
        result = service.start_payable(
            session_id=ctx.session_id,
            payable=payable,
            phone=ctx.msisdn,
            operator=str(ctx.data.get("operator", "")),
            lang=ctx.lang,
        )
    except UnknownOperatorError:
        return ActionResult(outcome="error")
    book = ctx.services.get(ReceiptBook)
    return started(
        ctx,
        service,
        result,
        {"ref": payable.reference},
        receipt_code=lambda: (
            payable.receipt_code or book.code_for_assessment(PAYABLE_SUBJECT.format(payable.id))
        ),
    )
