"""Answer an inbound SMS: parse the keyword, act, reply in the phone's language.

Runs in a job (the callback only stores and enqueues). Replies go through SmsService like any
other message, keyed by the inbound id, so a re-run job never replies twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import runtime
from civic import references
from civic.ports import Backend, BackendUnavailableError, DocumentRequest, RequestStatus
from runtime.masking import mask_phone
from sms.keywords import Command, Keyword, parse
from sms.preferences import Preferences
from sms.service import SendResult, SmsService

if TYPE_CHECKING:
    from payments.receipts import ReceiptVerifier

log = logging.getLogger(__name__)

# A STATUT reply is the alert the citizen would have received for the request's status.
STATUS_TEMPLATES: Mapping[RequestStatus, str] = {
    RequestStatus.SUBMITTED: "request_created",
    RequestStatus.IN_REVIEW: "request_in_review",
    RequestStatus.NEEDS_VISIT: "request_needs_visit",
    RequestStatus.APPROVED: "request_approved",
    RequestStatus.READY_FOR_PICKUP: "request_ready_for_pickup",
    RequestStatus.DELIVERED: "request_delivered",
    RequestStatus.REJECTED: "request_rejected",
    RequestStatus.AWAITING_PAYMENT: "request_awaiting_payment",
    RequestStatus.EXPIRED: "request_expired",
}


@dataclass(frozen=True, slots=True)
class Reply:
    """The template and parameters an inbound SMS is answered with."""

    template: str
    params: Mapping[str, str | int] = field(default_factory=dict)


class InboundRouter:
    """Turn an inbound SMS into a state change (STOP, START, LANGUE) and a reply."""

    def __init__(
        self,
        *,
        sms: SmsService,
        preferences: Preferences,
        services: runtime.Container,
        short_code: str,
        replies_per_hour: int,
    ) -> None:
        self._sms = sms
        self._prefs = preferences
        self._services = services
        self._short_code = short_code
        self._replies_per_hour = replies_per_hour

    def handle(self, inbound_id: str, phone: str, text: str) -> SendResult | None:
        """Act on one inbound SMS and queue its reply (None when rate-limited into silence)."""
        command = parse(text)
        lang = self._sms.book.language(
            self._prefs.language(phone) or command.lang_hint or self._sms.book.default_language
        )
        if command.keyword == Keyword.LANGUAGE and command.argument:
            lang = command.argument
        reply = self._act(phone, command, lang)  # state changes happen even when limited
        slot = self._prefs.reply_slot(phone, self._replies_per_hour)
        if slot == 2:
            log.info("sms inbound %s from %s: reply suppressed", inbound_id, mask_phone(phone))
            return None
        if slot == 1:
            reply = Reply("reply_rate_limited", {"short_code": self._short_code})
        return self._sms.send(
            phone, reply.template, reply.params, idempotency_key=f"reply:{inbound_id}", lang=lang
        )

    def _act(self, phone: str, command: Command, lang: str) -> Reply:
        code = {"short_code": self._short_code}
        match command.keyword:
            case Keyword.STOP:
                self._prefs.set_opted_out(phone, True)
                return Reply("reply_stop")
            case Keyword.START:
                self._prefs.set_opted_out(phone, False)
                return Reply("reply_start")
            case Keyword.LANGUAGE:
                if not command.argument:
                    return Reply("reply_language_missing")
                self._prefs.set_language(phone, command.argument)
                return Reply("reply_language")
            case Keyword.HELP:
                return Reply("reply_help", code)
            case Keyword.STATUS:
                return self._status(phone, command.argument, lang)
            case Keyword.RECEIPT:
                return self._receipt(command.argument)
        return Reply("reply_unknown", code)

    def _status(self, phone: str, ref: str, lang: str) -> Reply:
        code = {"short_code": self._short_code}
        if not ref:
            return Reply("reply_status_missing", code)
        if not references.validate(ref):
            return Reply("reply_status_mistyped", {"ref": ref[:12], **code})
        backend: Backend | None = self._services.find(Backend)  # type: ignore[type-abstract]
        if backend is None:
            return Reply("reply_unavailable")
        try:
            request = backend.get_request(ref)
        except BackendUnavailableError:
            return Reply("reply_unavailable")
        # Someone else's reference gets the same answer as an unknown one: no enumeration.
        if request is None or request.owner_phone != phone:
            return Reply("reply_status_unknown", {"ref": ref, **code})
        return Reply(STATUS_TEMPLATES[request.status], self._request_params(backend, request, lang))

    def _request_params(
        self, backend: Backend, request: DocumentRequest, lang: str
    ) -> dict[str, str | int]:
        doc = backend.get_document_type(request.document_code)
        name = request.document_code if doc is None else doc.names.get(lang, request.document_code)
        return {
            "ref": request.reference,
            "document": name,
            "reason": request.reason or "-",
            "pickup": request.pickup or "-",
            "short_code": self._short_code,
        }

    def _receipt(self, code: str) -> Reply:
        if not code:
            return Reply("reply_receipt_missing")
        verifier = self._verifier()
        if verifier is None:
            return Reply("reply_unavailable")
        result: Any = verifier.verify(code)
        status = str(result.status)
        if status == "valid":
            return Reply(
                "reply_receipt_valid",
                {
                    "receipt_code": result.code,
                    "amount": result.amount or 0,
                    "currency": result.currency or "",
                    "tax": result.tax or "",
                    "ref": result.reference or "",
                    "date": result.date.isoformat() if result.date else "",
                },
            )
        if status == "mistyped":
            return Reply("reply_receipt_mistyped", {"receipt_code": result.code})
        return Reply("reply_receipt_unknown", {"receipt_code": result.code})

    def _verifier(self) -> ReceiptVerifier | None:
        try:
            from payments.receipts import ReceiptVerifier  # noqa: PLC0415 - payments imports sms
        except ImportError:  # payments not installed in this process
            return None
        return self._services.find(ReceiptVerifier)
