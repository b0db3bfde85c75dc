"""The citizen's SMS about their document request: one per history entry, never twice.

Used inline by the agents' API after a decision and as an rq job (`send_request_alert`) by the
USSD "request a document" journey, which must not send anything inside the hop. In sms (it reads
the civic domain below and sends through SmsService) so that both callers, above it, can name
the job by reference.

Both callers record the entry as owing its alert (`announce`) in the entry's own transaction;
`alert` clears the mark once SmsService accepted the SMS (its SQL log row exists by then). A
periodic job (`owed_alerts_tick`) sends the alerts still owed after a grace: the job or the
inline call was lost (Redis came back empty, the process died). The idempotency key
`request:<ref>:<seq>` keeps it to one SMS when both run.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from typing import Final

import runtime
from civic.ports import (
    Backend,
    DocumentRequest,
    DocumentType,
    HistoryEvent,
    RequestStatus,
    StatusChange,
)
from civic.wording import document_name, pickup_text, reason_text
from runtime.jobs import Jobs, schedule_periodic
from runtime.masking import mask_phone
from sms.preferences import Preferences
from sms.queues import SMS_QUEUE
from sms.service import SmsService
from sms.wiring import SmsOptions

log = logging.getLogger(__name__)
# Statuses whose SMS says why, from the entry's reason code (+ the agent's words).
# appointment_needed is the seam for the appointments module: its SMS asks the citizen to book
# (by USSD); once booking is wired, a `slot` param proposing one is added here and in the
# template (docs/contracts.md, "appointment_needed").
REASONED = frozenset(
    {RequestStatus.REJECTED, RequestStatus.NEEDS_VISIT, RequestStatus.APPOINTMENT_NEEDED}
)

OWED_BATCH: Final = 200  # owed alerts sent per tick; the next tick takes the rest


def template_for(status: RequestStatus, document: DocumentType | None = None) -> str:
    """Return the SMS template key announcing `status` (docs/contracts.md)."""
    if status is RequestStatus.SUBMITTED:
        # A document that needs a counter visit says so from the first message.
        visit = document is not None and document.needs_visit
        return "request_created_visit" if visit else "request_created"
    return f"request_{status.value}"


def template_of(change: StatusChange, document: DocumentType | None = None) -> str | None:
    """Return the template announcing a history entry, None when another SMS covers it.

    A paid fee is announced by its receipt (payments), a request still awaiting its fee by
    the payment prompt and that receipt; a waiver has its own words.
    """
    if change.event is HistoryEvent.FEE_PAID or change.status is RequestStatus.AWAITING_PAYMENT:
        return None
    if change.event is HistoryEvent.FEE_WAIVED:
        return "request_fee_waived"
    return template_for(change.status, document)


def alert(services: runtime.Container, request: DocumentRequest, seq: int | None = None) -> str:
    """Queue the SMS for history entry `seq` (1-based; default the last); return its outcome."""
    seq = len(request.history) if seq is None else seq
    if not 1 <= seq <= len(request.history):
        return "no_such_entry"
    sms = services.find(SmsService)
    if sms is None:  # a process wired without SMS (tests of the domain alone)
        log.warning("request %s: no SmsService wired, alert skipped", request.reference)
        return "skipped"
    change = request.history[seq - 1]
    backend = services.get(Backend)  # type: ignore[type-abstract]
    document = backend.get_document_type(request.document_code)
    template = template_of(change, document)
    if template is None:
        backend.alert_sent(request.reference, seq)
        return "not_announced"
    lang = _language(services, backend, request.owner_phone)
    resolved = sms.book.language(lang)
    params: dict[str, str | int] = {
        "ref": request.reference,
        "document": document_name(document, request.document_code, resolved),
        "short_code": services.get(SmsOptions).short_code,
    }
    # The entry's own words (a later decision may have moved the request on), in the
    # citizen's language: coded texts from the catalogue, the agent's free text appended.
    at_entry = dataclasses.replace(
        request, status=change.status, reason=change.reason, reason_code=change.reason_code
    )
    if change.status in REASONED:
        params["reason"] = reason_text(at_entry, document, resolved) or "-"
    if change.status is RequestStatus.READY_FOR_PICKUP:
        office = backend.get_office(change.office_id) if change.office_id else None
        params["pickup"] = pickup_text(office, change.pickup, resolved) or "-"
    result = sms.send(
        request.owner_phone,
        template,
        params,
        idempotency_key=f"request:{request.reference}:{seq}",
        lang=resolved,
    )
    # Accepted (or refused for good): the message log holds it, nothing is owed any more.
    backend.alert_sent(request.reference, seq)
    log.info(
        "request %s: alert %s to %s -> %s",
        request.reference,
        change.status.value,
        mask_phone(request.owner_phone),
        result.status,
    )
    return str(result.status)


def send_request_alert(reference: str, seq: int) -> str:
    """rq job: queue the SMS for entry `seq` of request `reference`."""
    services = runtime.current()
    request = services.get(Backend).get_request(reference)  # type: ignore[type-abstract]
    if request is None:
        return "unknown_request"
    return alert(services, request, seq)


def send_owed_alerts(services: runtime.Container, grace_seconds: float) -> int:
    """Send the alerts still owed after `grace_seconds`; return how many were looked at."""
    backend = services.get(Backend)  # type: ignore[type-abstract]
    before = datetime.now(UTC) - timedelta(seconds=grace_seconds)
    owed = backend.owed_alerts(before, OWED_BATCH)
    for reference, seq in owed:
        try:
            request = backend.get_request(reference)
            outcome = alert(services, request, seq) if request is not None else "unknown"
        except Exception:
            # One alert failing (a template removed, the SMS layer down) must not stop the rest;
            # it stays owed and the next tick tries again.
            log.exception("request %s: owed alert %d could not be sent", reference, seq)
            continue
        log.warning("request %s: owed alert %d sent late -> %s", reference, seq, outcome)
    return len(owed)


def owed_alerts_tick(interval_seconds: float) -> int:
    """rq job: send the owed alerts (grace: one interval), then schedule the next tick."""
    services = runtime.current()
    try:
        return send_owed_alerts(services, interval_seconds)
    finally:
        schedule_owed_alerts(services.get(Jobs), interval_seconds)  # type: ignore[type-abstract]


def schedule_owed_alerts(jobs: Jobs, interval_seconds: float, now: float | None = None) -> None:
    """Enqueue the next owed-alerts tick; every process asking for one time bucket gets one."""
    schedule_periodic(
        jobs, SMS_QUEUE, owed_alerts_tick, interval_seconds, key="request-alerts", now=now
    )


def _language(services: runtime.Container, backend: Backend, phone: str) -> str | None:
    prefs = services.find(Preferences)
    chosen = prefs.language(phone) if prefs is not None else None
    if chosen:
        return chosen
    citizen = backend.get_citizen(phone)
    return citizen.language if citizen is not None else None
