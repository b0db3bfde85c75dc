"""The citizen's SMS about their document request: one per history entry, never twice.

Used inline by the agents' API after a decision and as an rq job (`send_request_alert`) by the
USSD "request a document" journey, which must not send anything inside the hop.
"""

from __future__ import annotations

import logging
from typing import Final

import runtime
from civic.ports import Backend, DocumentRequest, HistoryEvent, RequestStatus, StatusChange
from menus.model import MenuSpec
from runtime.masking import mask_phone
from sms.preferences import Preferences
from sms.service import SmsService

log = logging.getLogger(__name__)

ALERT_JOB: Final = "gateway.request_alerts.send_request_alert"


def template_for(status: RequestStatus) -> str:
    """Return the SMS template key announcing `status` (docs/contracts.md)."""
    return "request_created" if status is RequestStatus.SUBMITTED else f"request_{status.value}"


def template_of(change: StatusChange) -> str | None:
    """Return the template announcing a history entry, None when another SMS covers it.

    A paid fee is announced by its receipt (payments), a request still awaiting its fee by
    the payment prompt and that receipt; a waiver has its own words.
    """
    if change.event is HistoryEvent.FEE_PAID or change.status is RequestStatus.AWAITING_PAYMENT:
        return None
    if change.event is HistoryEvent.FEE_WAIVED:
        return "request_fee_waived"
    return template_for(change.status)


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
    template = template_of(change)
    if template is None:
        return "not_announced"
    backend = services.get(Backend)  # type: ignore[type-abstract]
    lang = _language(services, backend, request.owner_phone)
    resolved = sms.book.language(lang)
    document = backend.get_document_type(request.document_code)
    names = document.names if document is not None else {}
    params: dict[str, str | int] = {
        "ref": request.reference,
        "document": names.get(resolved) or next(iter(names.values()), request.document_code),
        "short_code": services.get(MenuSpec).service_code,
    }
    if change.status in (RequestStatus.REJECTED, RequestStatus.NEEDS_VISIT):
        params["reason"] = change.reason or ""
    if change.status is RequestStatus.READY_FOR_PICKUP:
        params["pickup"] = change.pickup or request.pickup or ""
    result = sms.send(
        request.owner_phone,
        template,
        params,
        idempotency_key=f"request:{request.reference}:{seq}",
        lang=resolved,
    )
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


def _language(services: runtime.Container, backend: Backend, phone: str) -> str | None:
    prefs = services.find(Preferences)
    chosen = prefs.language(phone) if prefs is not None else None
    if chosen:
        return chosen
    citizen = backend.get_citizen(phone)
    return citizen.language if citizen is not None else None
