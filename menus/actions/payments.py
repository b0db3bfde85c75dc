"""The payment journey's actions: choose an operator, confirm (persist the intent, queue the push).

Never asks for a mobile-money PIN: the operator prompts for it on the handset once our session
has ended, which is why the push is an Effect delayed by PAYMENT_PUSH_DELAY_SECONDS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from civic.ports import Backend
from menus.model import MenuSpec
from menus.registry import ActionContext, ActionResult, Effect, Option, actions
from payments.jobs import push_intent
from payments.numbering import NumberingPlan
from payments.queues import PAYMENTS_QUEUE
from payments.receipt_book import ReceiptBook
from payments.service import (
    PaymentService,
    StartOutcome,
    StartResult,
    UnknownOperatorError,
)

OPERATOR_LABEL_MAX: Final = 20
OPERATOR_MESSAGE: Final = "operator_{}"  # menus.yaml messages: operator_mpesa, operator_airtel


def operator_name(ctx: ActionContext, operator: str) -> str:
    """Return the operator's display name from menus.yaml messages (its key otherwise)."""
    spec = ctx.services.get(MenuSpec)
    text = spec.messages.get(OPERATOR_MESSAGE.format(operator))
    return text.render(ctx.lang, {}) if text is not None else operator


# What starting a payment can end in, whatever is paid (tax, fee, payable): one `on:` shape.
START_OUTCOMES: Final = frozenset(
    {"started", "started_link", "already_pending", "already_paid", "paid_no_receipt", "error"}
)


@actions.register("payments.operators", option_label_max=OPERATOR_LABEL_MAX)
def operators(ctx: ActionContext) -> ActionResult:
    """Offer the operators configured in PAYMENT_OPERATORS, the caller's own first."""
    service = ctx.services.get(PaymentService)
    keys = service.operators()
    plan = ctx.services.find(NumberingPlan)
    if plan is not None:
        keys = plan.order(keys, ctx.msisdn)
    return ActionResult(options=[Option(key, operator_name(ctx, key)) for key in keys])


@actions.register(
    "payments.fee_start",
    outcomes=START_OUTCOMES,
)
def fee_start(ctx: ActionContext) -> ActionResult:
    """Persist the intent paying the fee of request `req_ref` and queue its push."""
    service = ctx.services.get(PaymentService)
    backend: Backend = ctx.services.get(Backend)  # type: ignore[type-abstract]
    reference = str(ctx.data.get("req_ref", ""))
    request = backend.get_request(reference) if reference else None
    if request is None or request.owner_phone != ctx.msisdn:
        return ActionResult(outcome="error")  # only the phone that filed it pays from here
    try:
        result = service.start_fee(
            session_id=ctx.session_id,
            request=request,
            phone=ctx.msisdn,
            operator=str(ctx.data.get("operator", "")),
            lang=ctx.lang,
        )
    except UnknownOperatorError:
        return ActionResult(outcome="error")
    return started(ctx, service, result, receipt_code=lambda: request.fee_receipt or None)


@actions.register(
    "payments.start",
    outcomes=START_OUTCOMES,
)
def start(ctx: ActionContext) -> ActionResult:
    """Persist the payment intent of the confirmed assessment and queue its push."""
    service = ctx.services.get(PaymentService)
    backend: Backend = ctx.services.get(Backend)  # type: ignore[type-abstract]
    assessment = backend.get_assessment(str(ctx.data.get("assessment_id", "")))
    operator = str(ctx.data.get("operator", ""))
    if assessment is None:
        return ActionResult(outcome="error")
    try:
        result = service.start(
            session_id=ctx.session_id,
            assessment=assessment,
            phone=ctx.msisdn,
            operator=operator,
            lang=ctx.lang,
        )
    except UnknownOperatorError:
        return ActionResult(outcome="error")
    book = ctx.services.get(ReceiptBook)
    return started(
        ctx,
        service,
        result,
        {"ref": assessment.reference},
        receipt_code=lambda: book.code_for_assessment(assessment.id),
    )


def started(
    ctx: ActionContext,
    service: PaymentService,
    result: StartResult,
    data: dict[str, str] | None = None,
    *,
    receipt_code: Callable[[], str | None],
) -> ActionResult:
    """Map a start result to the journey's outcomes; queue the push of a new intent."""
    intent = result.intent
    data = dict(data or {})
    if intent is not None:
        data["operator_name"] = operator_name(ctx, intent.operator)
    if result.outcome is StartOutcome.STARTED and intent is not None:
        push = Effect(
            queue=PAYMENTS_QUEUE,
            func=push_intent,
            args=(intent.id,),
            job_id=service.push_job_id(intent.id),
            delay_seconds=service.config.push_delay_seconds,
            timeout_seconds=service.config.push_job_timeout_seconds,
        )
        # Web payments (Orange Money Web Payment) send a link by SMS: no prompt will come.
        outcome = "started_link" if service.pays_by_link(intent.operator) else "started"
        return ActionResult(outcome=outcome, data=data, effects=[push])
    if result.outcome is StartOutcome.ALREADY_PENDING:
        return ActionResult(outcome="already_pending", data=data)
    if result.outcome is StartOutcome.ALREADY_PAID:
        # The code the citizen may have lost; none when it was paid at the counter.
        code = receipt_code()
        if code is None:
            return ActionResult(outcome="paid_no_receipt", data=data)
        return ActionResult(outcome="already_paid", data={**data, "receipt_code": code})
    return ActionResult(outcome="error")
