"""The request's status machine: pure functions over civic.ports types.

A document delivery follows TRANSITIONS below; any other kind (registration, dossier,
declaration, correction...) follows the transitions its catalogue entry carries
(DocumentType.transitions, from the catalogue's `workflows:`, see civic.workflows), with the
same rules for reasons, offices and fees. A status without a way out is final.

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

History is append-only: every decision adds one StatusChange (time, agent, reason code and
free text, office and free text) and never edits an earlier one.

Reject and needs_visit name a reason code of the document (`reasons:` in the catalogue, texts
in every language); ready names an office (address and hours in every language). The agent's
free text is optional, appended to what the citizen reads, and cleaned of control and
bidi-override characters (civic.wording).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
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
    UnknownOfficeError,
    UnknownReasonError,
    WaiverReasonRequiredError,
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
    S.AWAITING_PAYMENT: {D.REJECT: S.REJECTED, D.WAIVE_FEE: S.SUBMITTED},
    S.EXPIRED: {},
}
Table = Mapping[RequestStatus, Mapping[Decision, RequestStatus]]
FINAL: Final = frozenset({S.DELIVERED, S.REJECTED, S.EXPIRED})
# Decisions that hand the document over: refused while the fee is due.
NEEDS_FEE_SETTLED: Final = frozenset({D.READY, D.DELIVERED})
MAX_DOSSIER_VALUE: Final = 80

# Reject and needs_visit name a catalogue reason (the citizen reads it in their language);
# a fee waiver is the agent's own justification, recorded in the history.
REASON_REQUIRED: Final = frozenset({D.REJECT, D.NEEDS_VISIT, D.APPOINTMENT_NEEDED})
FREE_REASON_REQUIRED: Final = frozenset({D.WAIVE_FEE})
PICKUP_REQUIRED: Final = frozenset({D.READY})
# Free texts appended to a coded reason or an office: USSD pages them, SMS templates budget
# them (menus.yaml placeholders, sms_templates.yaml params, both checked at worst case).
MAX_REASON_LENGTH: Final = 80
MAX_PICKUP_LENGTH: Final = 80
# A status that carries a reason; the request's `reason` is cleared when it moves on.
STATUSES_WITH_REASON: Final = frozenset({S.REJECTED, S.NEEDS_VISIT, S.APPOINTMENT_NEEDED})


def table_of(document: DocumentType | None) -> Table:
    """Return the transitions `document`'s kind follows (a document delivery's by default)."""
    return document.transitions if document is not None and document.transitions else TRANSITIONS


def is_final(status: RequestStatus, table: Table = TRANSITIONS) -> bool:
    """Return True when no decision leads out of `status` (delivered, rejected, expired...)."""
    return status in FINAL or not table.get(status)


def allowed_decisions(
    status: RequestStatus, fee_status: FeeStatus = FeeStatus.NONE, table: Table = TRANSITIONS
) -> list[Decision]:
    """Return the decisions an agent may take on a request in `status` with its fee."""
    allowed = list(table.get(status, {}))
    if fee_status is FeeStatus.DUE:
        allowed = [d for d in allowed if d not in NEEDS_FEE_SETTLED]
        if not is_final(status, table) and D.WAIVE_FEE not in allowed:
            allowed.append(D.WAIVE_FEE)
    elif D.WAIVE_FEE in allowed:
        allowed.remove(D.WAIVE_FEE)
    return allowed


def next_status(
    current: RequestStatus,
    decision: Decision,
    fee_status: FeeStatus = FeeStatus.NONE,
    table: Table = TRANSITIONS,
) -> RequestStatus:
    """Return where `decision` takes a request in `current`; raise IllegalTransitionError."""
    if decision is D.WAIVE_FEE:
        if fee_status is not FeeStatus.DUE or is_final(current, table):
            raise IllegalTransitionError(current, decision)
        return table[current].get(decision, current)  # the status stays where it is
    try:
        status = table[current][decision]
    except KeyError:
        raise IllegalTransitionError(current, decision) from None
    return status


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
    fee_status: FeeStatus = FeeStatus.NONE,
) -> Checked:
    """Validate a decision against the document's reasons, the offices and the fee."""
    status = next_status(current, decision, fee_status, table_of(document))
    reason = clean_text(reason, "reason", MAX_REASON_LENGTH)
    pickup = clean_text(pickup, "pickup", MAX_PICKUP_LENGTH)
    code = (reason_code or "").strip() or None
    office = (office_id or "").strip() or None
    if decision in REASON_REQUIRED:
        if code is None:
            raise ReasonRequiredError(f"a {decision.value} decision needs a reason_code")
        if document is None or document.reason(code, decision) is None:
            raise UnknownReasonError(f"{code!r} is not a {decision.value} reason of this document")
        checked = Checked(status, reason, None, code, None)
    elif decision in FREE_REASON_REQUIRED:
        if reason is None:
            raise WaiverReasonRequiredError(f"a {decision.value} decision needs a reason")
        checked = Checked(status, reason, None, None, None)
    elif decision in PICKUP_REQUIRED:
        if office is None:
            raise PickupRequiredError("a ready decision needs the office where to collect it")
        if office not in office_ids:
            raise UnknownOfficeError(f"no office {office!r}")
        checked = Checked(status, None, pickup, None, office)
    else:
        checked = Checked(status, None, None, None, None)
    # After the texts: a malformed decision is a 400 whatever the fee; a due fee is a 409.
    if decision in NEEDS_FEE_SETTLED and fee_status is FeeStatus.DUE:
        raise FeeUnpaidError(current, decision)
    return checked


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
        fee_status=request.fee_status,
    )
    status = checked.status
    if decision is D.WAIVE_FEE:
        change = StatusChange(
            status=status,
            at=at,
            agent_id=agent_id,
            reason=checked.reason,
            event=HistoryEvent.FEE_WAIVED,
        )
        return dataclasses.replace(
            request,
            status=status,
            history=(*request.history, change),
            fee_status=FeeStatus.WAIVED,
        )
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
