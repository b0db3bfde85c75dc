"""The document request's status machine: pure functions over civic.ports types.

    submitted    --in_review-->   in_review
    in_review    --needs_visit--> needs_visit
    in_review    --approve-->     approved      (needs_visit --approve--> approved too)
    approved     --ready-->       ready_for_pickup
    ready_for_pickup --delivered--> delivered
    submitted | in_review | needs_visit --reject--> rejected
    awaiting_payment --fee paid (payments)--> submitted    (expired --fee paid--> submitted too)
    awaiting_payment --waive_fee--> submitted;  --reject--> rejected;  --expiry job--> expired

A request whose fee is collected by mobile money waits in awaiting_payment; its fee is `due`.
Ready and delivered are refused while a fee is due (FeeUnpaidError) unless an agent waived it:
waive_fee needs a reason, is legal on any open request whose fee is due, and adds a history
entry (event fee_waived) that keeps the status (or moves awaiting_payment on to submitted).

Reject is allowed while the city is still deciding (submitted, in_review, needs_visit); once
a request is approved the city owes the document, so approved and later statuses only move
forward. Delivered and rejected are final. Whether a counter visit is needed is the agent's
call (the document type's `needs_visit` is advice shown to them), so approve is legal from
in_review as well as from needs_visit.

History is append-only: every decision adds one StatusChange (time, agent, reason, pickup)
and never edits an earlier one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from civic.ports import (
    Decision,
    DocumentField,
    DocumentRequest,
    DocumentType,
    DossierError,
    FeePayment,
    FeeStatus,
    FeeUnpaidError,
    HistoryEvent,
    IllegalTransitionError,
    PickupRequiredError,
    ReasonRequiredError,
    RequestStatus,
    StatusChange,
    TextTooLongError,
)

S = RequestStatus
D = Decision

TRANSITIONS: Final[dict[RequestStatus, dict[Decision, RequestStatus]]] = {
    S.SUBMITTED: {D.IN_REVIEW: S.IN_REVIEW, D.REJECT: S.REJECTED},
    S.IN_REVIEW: {D.NEEDS_VISIT: S.NEEDS_VISIT, D.APPROVE: S.APPROVED, D.REJECT: S.REJECTED},
    S.NEEDS_VISIT: {D.APPROVE: S.APPROVED, D.REJECT: S.REJECTED},
    S.APPROVED: {D.READY: S.READY_FOR_PICKUP},
    S.READY_FOR_PICKUP: {D.DELIVERED: S.DELIVERED},
    S.DELIVERED: {},
    S.REJECTED: {},
    S.AWAITING_PAYMENT: {D.REJECT: S.REJECTED, D.WAIVE_FEE: S.SUBMITTED},
    S.EXPIRED: {},
}
FINAL: Final = frozenset({S.DELIVERED, S.REJECTED, S.EXPIRED})
# Decisions that hand the document over: refused while the fee is due.
NEEDS_FEE_SETTLED: Final = frozenset({D.READY, D.DELIVERED})
MAX_DOSSIER_VALUE: Final = 80

REASON_REQUIRED: Final = frozenset({D.REJECT, D.NEEDS_VISIT, D.WAIVE_FEE})
PICKUP_REQUIRED: Final = frozenset({D.READY})
# Both texts end up in one SMS segment and on a USSD screen (menus.yaml placeholders).
MAX_REASON_LENGTH: Final = 60
MAX_PICKUP_LENGTH: Final = 60
# A status that carries a reason; the request's `reason` is cleared when it moves on.
STATUSES_WITH_REASON: Final = frozenset({S.REJECTED, S.NEEDS_VISIT})


def allowed_decisions(
    status: RequestStatus, fee_status: FeeStatus = FeeStatus.NONE
) -> list[Decision]:
    """Return the decisions an agent may take on a request in `status` with its fee."""
    allowed = list(TRANSITIONS[status])
    if fee_status is FeeStatus.DUE:
        allowed = [d for d in allowed if d not in NEEDS_FEE_SETTLED]
        if status not in FINAL and D.WAIVE_FEE not in allowed:
            allowed.append(D.WAIVE_FEE)
    elif D.WAIVE_FEE in allowed:
        allowed.remove(D.WAIVE_FEE)
    return allowed


def next_status(
    current: RequestStatus, decision: Decision, fee_status: FeeStatus = FeeStatus.NONE
) -> RequestStatus:
    """Return where `decision` takes a request in `current`; raise IllegalTransitionError."""
    if decision is D.WAIVE_FEE:
        if fee_status is not FeeStatus.DUE or current in FINAL:
            raise IllegalTransitionError(current, decision)
        return TRANSITIONS[current].get(decision, current)  # the status stays where it is
    try:
        status = TRANSITIONS[current][decision]
    except KeyError:
        raise IllegalTransitionError(current, decision) from None
    return status


def clean_text(value: str | None, field: str, limit: int) -> str | None:
    """Return `value` stripped (None when blank); raise TextTooLongError past `limit`."""
    if value is None:
        return None
    text = " ".join(value.split())
    if len(text) > limit:
        raise TextTooLongError(field, limit)
    return text or None


def check_decision(
    current: RequestStatus,
    decision: Decision,
    reason: str | None,
    pickup: str | None,
    fee_status: FeeStatus = FeeStatus.NONE,
) -> tuple[RequestStatus, str | None, str | None]:
    """Validate a decision; return (new status, cleaned reason, cleaned pickup)."""
    status = next_status(current, decision, fee_status)
    reason = clean_text(reason, "reason", MAX_REASON_LENGTH)
    pickup = clean_text(pickup, "pickup", MAX_PICKUP_LENGTH)
    if decision in REASON_REQUIRED and reason is None:
        raise ReasonRequiredError(f"a {decision.value} decision needs a reason")
    if decision in PICKUP_REQUIRED and pickup is None:
        raise PickupRequiredError("a ready decision needs where and when to pick up")
    # After the texts: a malformed decision is a 400 whatever the fee; a due fee is a 409.
    if decision in NEEDS_FEE_SETTLED and fee_status is FeeStatus.DUE:
        raise FeeUnpaidError(current, decision)
    return status, reason, (pickup if decision in PICKUP_REQUIRED else None)


def apply(
    request: DocumentRequest,
    decision: Decision,
    *,
    agent_id: str,
    at: datetime,
    reason: str | None = None,
    pickup: str | None = None,
) -> DocumentRequest:
    """Return `request` after `decision`, with one more history entry."""
    status, reason, pickup = check_decision(
        request.status, decision, reason, pickup, request.fee_status
    )
    if decision is D.WAIVE_FEE:
        change = StatusChange(
            status=status, at=at, agent_id=agent_id, reason=reason, event=HistoryEvent.FEE_WAIVED
        )
        return dataclasses.replace(
            request,
            status=status,
            history=(*request.history, change),
            fee_status=FeeStatus.WAIVED,
        )
    change = StatusChange(status=status, at=at, agent_id=agent_id, reason=reason, pickup=pickup)
    return dataclasses.replace(
        request,
        status=status,
        history=(*request.history, change),
        reason=reason if status in STATUSES_WITH_REASON else None,
        pickup=pickup if pickup is not None else request.pickup,
    )


def fee_paid(request: DocumentRequest, payment: FeePayment) -> DocumentRequest:
    """Return `request` with its fee paid; awaiting_payment (or expired) moves to submitted."""
    status = S.SUBMITTED if request.status in (S.AWAITING_PAYMENT, S.EXPIRED) else request.status
    change = StatusChange(
        status=status, at=payment.paid_at, agent_id=None, event=HistoryEvent.FEE_PAID
    )
    return dataclasses.replace(
        request,
        status=status,
        history=(*request.history, change),
        fee_status=FeeStatus.PAID,
        fee_receipt=payment.receipt_code,
    )


def expired(request: DocumentRequest, at: datetime) -> DocumentRequest:
    """Return a request awaiting payment as expired; raise IllegalTransitionError otherwise."""
    if request.status is not S.AWAITING_PAYMENT:
        raise IllegalTransitionError(request.status, D.REJECT)
    change = StatusChange(status=S.EXPIRED, at=at, agent_id=None)
    return dataclasses.replace(request, status=S.EXPIRED, history=(*request.history, change))


def check_dossier(document: DocumentType, dossier: Mapping[str, str] | None) -> dict[str, str]:
    """Return the dossier cleaned; raise DossierError on a missing required or unknown field.

    Formats were checked where they were typed (menus/validators.py); the domain only makes
    sure what it stores matches the catalogue, whatever channel filed it.
    """
    given = dict(dossier or {})
    declared: dict[str, DocumentField] = {f.key: f for f in document.fields}
    cleaned: dict[str, str] = {}
    for key, value in given.items():
        if key not in declared:
            raise DossierError(key, "not a field of this document")
        text = " ".join(str(value).split())
        if len(text) > MAX_DOSSIER_VALUE:
            raise DossierError(key, f"longer than {MAX_DOSSIER_VALUE} characters")
        if text:
            cleaned[key] = text
    for spec in document.fields:
        if spec.required and spec.key not in cleaned:
            raise DossierError(spec.key, "required")
    return cleaned


def submitted(
    *,
    reference: str,
    document_code: str,
    owner_phone: str,
    at: datetime,
    applicant_name: str | None = None,
    id_number: str | None = None,
    dossier: Mapping[str, str] | None = None,
    fee: int = 0,
    currency: str = "",
    collect_fee: bool = False,
) -> DocumentRequest:
    """Return a new request; the citizen (no agent) made it.

    With a fee collected by mobile money it waits in awaiting_payment, else it is submitted.
    """
    status = S.AWAITING_PAYMENT if fee > 0 and collect_fee else S.SUBMITTED
    return DocumentRequest(
        reference=reference,
        document_code=document_code,
        owner_phone=owner_phone,
        status=status,
        created_at=at,
        history=(StatusChange(status=status, at=at, agent_id=None),),
        applicant_name=applicant_name,
        id_number=id_number,
        dossier=dict(dossier or {}),
        fee=fee,
        currency=currency,
        fee_status=FeeStatus.DUE if fee > 0 else FeeStatus.NONE,
    )
