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

History is append-only: every decision adds one StatusChange (time, agent, reason code and
free text, office and free text) and never edits an earlier one.

Reject and needs_visit name a reason code of the document (`reasons:` in the catalogue, texts
in every language); ready names an office (address and hours in every language). The agent's
free text is optional, appended to what the citizen reads, and cleaned of control and
bidi-override characters (civic.wording).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from civic.ports import (
    Decision,
    DocumentRequest,
    DocumentType,
    IllegalTransitionError,
    PickupRequiredError,
    ReasonRequiredError,
    RequestStatus,
    StatusChange,
    TextTooLongError,
    UnknownOfficeError,
    UnknownReasonError,
)
from civic.wording import clean_agent_text

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
# Free texts appended to a coded reason or an office: USSD pages them, SMS templates budget
# them (menus.yaml placeholders, sms_templates.yaml params, both checked at worst case).
MAX_REASON_LENGTH: Final = 80
MAX_PICKUP_LENGTH: Final = 80
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
    """Return `value` cleaned (None when blank); raise TextTooLongError past `limit`."""
    text = clean_agent_text(value)
    if text is not None and len(text) > limit:
        raise TextTooLongError(field, limit)
    return text


@dataclass(frozen=True, slots=True)
class Checked:
    """A validated decision: where it leads and what it records."""

    status: RequestStatus
    reason: str | None
    pickup: str | None
    reason_code: str | None
    office_id: str | None


def check_decision(
    current: RequestStatus,
    decision: Decision,
    *,
    document: DocumentType | None = None,
    office_ids: Collection[str] = (),
    reason: str | None = None,
    pickup: str | None = None,
    reason_code: str | None = None,
    office_id: str | None = None,
) -> Checked:
    """Validate a decision against the document's reasons and the offices."""
    status = next_status(current, decision)
    reason = clean_text(reason, "reason", MAX_REASON_LENGTH)
    pickup = clean_text(pickup, "pickup", MAX_PICKUP_LENGTH)
    code = (reason_code or "").strip() or None
    office = (office_id or "").strip() or None
    if decision in REASON_REQUIRED:
        if code is None:
            raise ReasonRequiredError(f"a {decision.value} decision needs a reason_code")
        if document is None or document.reason(code, decision) is None:
            raise UnknownReasonError(f"{code!r} is not a {decision.value} reason of this document")
        return Checked(status, reason, None, code, None)
    if decision in PICKUP_REQUIRED:
        if office is None:
            raise PickupRequiredError("a ready decision needs the office where to collect it")
        if office not in office_ids:
            raise UnknownOfficeError(f"no office {office!r}")
        return Checked(status, None, pickup, None, office)
    return Checked(status, None, None, None, None)


def apply(
    request: DocumentRequest,
    decision: Decision,
    *,
    agent_id: str,
    at: datetime,
    document: DocumentType | None = None,
    office_ids: Collection[str] = (),
    reason: str | None = None,
    pickup: str | None = None,
    reason_code: str | None = None,
    office_id: str | None = None,
) -> DocumentRequest:
    """Return `request` after `decision`, with one more history entry."""
    checked = check_decision(
        request.status,
        decision,
        document=document,
        office_ids=office_ids,
        reason=reason,
        pickup=pickup,
        reason_code=reason_code,
        office_id=office_id,
    )
    status = checked.status
    change = StatusChange(
        status=status,
        at=at,
        agent_id=agent_id,
        reason=checked.reason,
        pickup=checked.pickup,
        reason_code=checked.reason_code,
        office_id=checked.office_id,
    )
    with_reason = status in STATUSES_WITH_REASON
    ready = checked.office_id is not None
    return dataclasses.replace(
        request,
        status=status,
        history=(*request.history, change),
        reason=checked.reason if with_reason else None,
        reason_code=checked.reason_code if with_reason else None,
        pickup=checked.pickup if ready else request.pickup,
        office_id=checked.office_id if ready else request.office_id,
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
