"""The document request's status machine: pure functions over civic.ports types.

    submitted    --in_review-->   in_review
    in_review    --needs_visit--> needs_visit
    in_review    --approve-->     approved      (needs_visit --approve--> approved too)
    approved     --ready-->       ready_for_pickup
    ready_for_pickup --delivered--> delivered
    submitted | in_review | needs_visit --reject--> rejected

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
from datetime import datetime
from typing import Final

from civic.ports import (
    Decision,
    DocumentRequest,
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
}

REASON_REQUIRED: Final = frozenset({D.REJECT, D.NEEDS_VISIT})
PICKUP_REQUIRED: Final = frozenset({D.READY})
# Both texts end up in one SMS segment and on a USSD screen (menus.yaml placeholders).
MAX_REASON_LENGTH: Final = 60
MAX_PICKUP_LENGTH: Final = 60
# A status that carries a reason; the request's `reason` is cleared when it moves on.
STATUSES_WITH_REASON: Final = frozenset({S.REJECTED, S.NEEDS_VISIT})


def allowed_decisions(status: RequestStatus) -> list[Decision]:
    """Return the decisions an agent may take on a request in `status`."""
    return list(TRANSITIONS[status])


def next_status(current: RequestStatus, decision: Decision) -> RequestStatus:
    """Return where `decision` takes a request in `current`; raise IllegalTransitionError."""
    try:
        return TRANSITIONS[current][decision]
    except KeyError:
        raise IllegalTransitionError(current, decision) from None


def clean_text(value: str | None, field: str, limit: int) -> str | None:
    """Return `value` stripped (None when blank); raise TextTooLongError past `limit`."""
    if value is None:
        return None
    text = " ".join(value.split())
    if len(text) > limit:
        raise TextTooLongError(field, limit)
    return text or None


def check_decision(
    current: RequestStatus, decision: Decision, reason: str | None, pickup: str | None
) -> tuple[RequestStatus, str | None, str | None]:
    """Validate a decision; return (new status, cleaned reason, cleaned pickup)."""
    status = next_status(current, decision)
    reason = clean_text(reason, "reason", MAX_REASON_LENGTH)
    pickup = clean_text(pickup, "pickup", MAX_PICKUP_LENGTH)
    if decision in REASON_REQUIRED and reason is None:
        raise ReasonRequiredError(f"a {decision.value} decision needs a reason")
    if decision in PICKUP_REQUIRED and pickup is None:
        raise PickupRequiredError("a ready decision needs where and when to pick up")
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
    status, reason, pickup = check_decision(request.status, decision, reason, pickup)
    change = StatusChange(status=status, at=at, agent_id=agent_id, reason=reason, pickup=pickup)
    return dataclasses.replace(
        request,
        status=status,
        history=(*request.history, change),
        reason=reason if status in STATUSES_WITH_REASON else None,
        pickup=pickup if pickup is not None else request.pickup,
    )


def submitted(
    *,
    reference: str,
    document_code: str,
    owner_phone: str,
    at: datetime,
    applicant_name: str | None = None,
    id_number: str | None = None,
) -> DocumentRequest:
    """Return a new request in status submitted; the citizen (no agent) made it."""
    return DocumentRequest(
        reference=reference,
        document_code=document_code,
        owner_phone=owner_phone,
        status=S.SUBMITTED,
        created_at=at,
        history=(StatusChange(status=S.SUBMITTED, at=at, agent_id=None),),
        applicant_name=applicant_name,
        id_number=id_number,
    )
