"""The payment journey's actions: choose an operator, confirm (persist the intent, queue the push).

Never asks for a mobile-money PIN: the operator prompts for it on the handset once our session
has ended, which is why the push is an Effect delayed by PAYMENT_PUSH_DELAY_SECONDS.
"""

from __future__ import annotations

from typing import Final

from civic.ports import Backend
from menus.model import MenuSpec
from menus.registry import ActionContext, ActionResult, Effect, Option, actions
from payments.queues import PAYMENTS_QUEUE
from payments.service import (
    PUSH_JOB,
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


@actions.register("payments.operators", option_label_max=OPERATOR_LABEL_MAX)
def operators(ctx: ActionContext) -> ActionResult:
    """Offer the operators configured in PAYMENT_OPERATORS."""
    service = ctx.services.get(PaymentService)
    return ActionResult(
        options=[Option(key, operator_name(ctx, key)) for key in service.operators()]
    )


@actions.register(
    "payments.fee_start", outcomes={"started", "already_pending", "already_paid", "error"}
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
    return _started(ctx, service, result)


@actions.register(
    "payments.start", outcomes={"started", "already_pending", "already_paid", "error"}
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
    return _started(ctx, service, result, {"ref": assessment.reference})


def _started(
    ctx: ActionContext,
    service: PaymentService,
    result: StartResult,
    data: dict[str, str] | None = None,
) -> ActionResult:
    """Map a start result to the journey's outcomes; queue the push of a new intent."""
    intent = result.intent
    data = dict(data or {})
    if intent is not None:
        data["operator_name"] = operator_name(ctx, intent.operator)
    if result.outcome is StartOutcome.STARTED and intent is not None:
        push = Effect(
            queue=PAYMENTS_QUEUE,
            func=PUSH_JOB,
            args=(intent.id,),
            job_id=service.push_job_id(intent.id),
            delay_seconds=service.config.push_delay_seconds,
        )
        return ActionResult(outcome="started", data=data, effects=[push])
    if result.outcome is StartOutcome.ALREADY_PENDING:
        return ActionResult(outcome="already_pending", data=data)
    if result.outcome is StartOutcome.ALREADY_PAID:
        return ActionResult(outcome="already_paid", data=data)
    return ActionResult(outcome="error")
