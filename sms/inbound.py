"""Answer an inbound SMS: parse the keyword, act, reply in the phone's language.

Runs in a job (the callback only stores and enqueues). Replies go through SmsService like any
other message, keyed by the inbound id, so a re-run job never replies twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final

import runtime
from civic import references
from civic.appointments import (
    Booking,
    BookingClosedError,
    SlotFullError,
    SlotNotOfferedError,
    clock_text,
)
from civic.ports import (
    Backend,
    BackendUnavailableError,
    DocumentRequest,
    DocumentType,
    IdentityRequiredError,
    RequestStatus,
)
from civic.privacy import visible_booking, visible_request
from civic.wording import document_name, pickup_text, reason_text
from runtime.guesses import GuessLimiter
from runtime.masking import mask_phone
from sms.appointment_alerts import booking_params
from sms.keywords import Command, Keyword, parse
from sms.preferences import Preferences
from sms.receipt_desk import ReceiptDesk
from sms.service import SendResult, SmsService
from text.encoding import cost

log = logging.getLogger(__name__)

LATEST_RECEIPTS: Final = 3  # RECU without a code: this phone's latest receipt codes

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
    RequestStatus.APPOINTMENT_NEEDED: "request_appointment_needed",
}


@dataclass(frozen=True, slots=True)
class Reply:
    """The template and parameters an inbound SMS is answered with."""

    template: str
    params: Mapping[str, str | int] = field(default_factory=dict)
    # A request filed by SMS: this reply is its first alert (reference, history entry), sent
    # under the alert's own idempotency key so the owed-alerts tick never sends it twice.
    announces: tuple[str, int] | None = None


def _orderable_by_sms(document: DocumentType) -> bool:
    """A document a citizen may order by SMS: a plain document with nothing to type."""
    return document.kind == "document" and not any(f.required for f in document.fields)


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
        command = parse(text, self._sms.book.keywords)
        lang = self._sms.book.language(
            self._prefs.language(phone) or command.lang_hint or self._sms.book.default_language
        )
        if command.keyword == Keyword.LANGUAGE and command.argument:
            lang = command.argument
        reply = self._act(inbound_id, phone, command, lang)  # state changes happen when limited
        slot = self._prefs.reply_slot(phone, self._replies_per_hour)
        if slot == 2:
            log.info("sms inbound %s from %s: reply suppressed", inbound_id, mask_phone(phone))
            return None
        if slot == 1:
            reply = Reply("reply_rate_limited", {"short_code": self._short_code})
        key = f"reply:{inbound_id}"
        if reply.announces is not None:
            key = "request:{}:{}".format(*reply.announces)  # sms.request_alerts' key
        result = self._sms.send(phone, reply.template, reply.params, idempotency_key=key, lang=lang)
        if reply.announces is not None:
            self._alert_sent(*reply.announces)
        return result

    def _alert_sent(self, reference: str, seq: int) -> None:
        """Clear the owed alert the reply just carried (the tick would send it otherwise)."""
        backend: Backend | None = self._services.find(Backend)  # type: ignore[type-abstract]
        if backend is not None:
            try:
                backend.alert_sent(reference, seq)
            except BackendUnavailableError:
                # Still owed: the tick sends it under the same key, which SmsService dedupes.
                log.warning("request %s: alert %d sent, mark deferred", reference, seq)

    def _act(self, inbound_id: str, phone: str, command: Command, lang: str) -> Reply:
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
            case Keyword.MY_DATA:
                return Reply("reply_my_data")
            case Keyword.STATUS:
                return self._status(phone, command.argument, lang)
            case Keyword.RECEIPT:
                return self._receipt(phone, command.argument, lang)
            case Keyword.CANCEL:
                return self._cancel(phone, command.argument)
            case Keyword.MOVE:
                return self._move(phone, command.argument, lang)
            case Keyword.ORDER:
                return self._order(inbound_id, phone, command.argument, lang)
        return Reply("reply_unknown", code)

    def _order(self, inbound_id: str, phone: str, number: str, lang: str) -> Reply:
        """File a request for the document numbered `number` in the SMS list (bare: the list).

        Only documents with nothing to type (no required field) are offered by SMS; the
        applicant's identity, when the document needs it, is the one this phone gave before.
        A fee is due at the counter, as announced by the request's first SMS.
        """
        code = {"short_code": self._short_code}
        backend: Backend | None = self._services.find(Backend)  # type: ignore[type-abstract]
        if backend is None:
            return Reply("reply_unavailable")
        try:
            offered = [d for d in backend.list_document_types() if _orderable_by_sms(d)]
            if not number or not number.isdigit() or not 1 <= int(number) <= len(offered):
                listing = ", ".join(
                    f"{n} {document_name(d, d.code, lang)}" for n, d in enumerate(offered, 1)
                )
                template = "reply_order_list" if not number else "reply_order_unknown"
                return Reply(template, {"documents": listing, **code})
            document = offered[int(number) - 1]
            citizen = backend.get_citizen(phone)
            request = backend.create_request(
                owner_phone=phone,
                document_code=document.code,
                # A retried inbound job files the same request, never a second one.
                idempotency_key=f"sms:{inbound_id}",
                applicant_name=citizen.name if citizen else None,
                id_number=citizen.id_number if citizen else None,
                dossier={},
                collect_fee=False,
                announce=True,
            )
        except IdentityRequiredError:
            return Reply("reply_order_identity", code)
        except BackendUnavailableError:
            return Reply("reply_unavailable")
        template = "request_created_visit" if document.needs_visit else "request_created"
        params = self._request_params(backend, request, lang)
        return Reply(template, params, announces=(request.reference, len(request.history)))

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
            request = visible_request(backend, ref, phone)
            if request is None:
                # Someone else's reference is an unknown one (civic/privacy.py): one answer,
                # one path, and a guess charged to this phone.
                limiter = self._services.find(GuessLimiter)
                if limiter is not None and not limiter.guess(phone).allowed:
                    return Reply("reply_status_limited", code)
                return Reply("reply_status_unknown", {"ref": ref, **code})
            params = self._request_params(backend, request, lang)
            template = STATUS_TEMPLATES[request.status]
            if template == "request_created":
                document = backend.get_document_type(request.document_code)
                if document is not None and document.needs_visit:
                    template = "request_created_visit"  # the visit is announced every time
        except BackendUnavailableError:
            return Reply("reply_unavailable")
        return Reply(template, params)

    def _cancel(self, phone: str, code: str) -> Reply:
        """Cancel a booking made from this phone; any other phone's code is an unknown one."""
        if not code:
            return Reply("reply_appointment_missing", {"short_code": self._short_code})

        def cancel(backend: Backend, booking: Booking) -> Reply:
            cancelled = backend.cancel_booking(booking.code)
            return Reply(
                "appointment_cancelled",
                {
                    "booking": cancelled.code,
                    "date": cancelled.day.strftime("%d/%m/%Y"),
                    "time": clock_text(cancelled.minute),
                },
            )

        return self._on_own_booking(phone, code, cancel)

    def _move(self, phone: str, argument: str, lang: str) -> Reply:
        """Move a booking made from this phone to `dd/mm[/yyyy] hh:mm` (parsed by sms.keywords)."""
        short = {"short_code": self._short_code}
        if not argument:
            return Reply("reply_appointment_move_usage", short)
        code, day_text, clock = argument.split(" ")
        hour, minute = (int(part) for part in clock.split(":"))
        # A `dd/mm` a day or more past is next year's (UTC today: one day of slack for the zone).
        day = _day(day_text, datetime.now(UTC).date())
        if day is None or hour > 23 or minute > 59:
            return Reply("reply_appointment_move_usage", short)

        def move(backend: Backend, booking: Booking) -> Reply:
            try:
                moved = backend.move_booking(booking.code, day=day, minute=hour * 60 + minute)
            except (SlotFullError, SlotNotOfferedError):
                # Full, closed, not offered or beyond the horizon: the menu lists what is free.
                slot = {"date": day.strftime("%d/%m/%Y"), "time": clock}
                return Reply("reply_appointment_slot_taken", {"booking": code, **slot, **short})
            service = backend.get_appointment_service(moved.service_code)
            return Reply("appointment_moved", booking_params(service, moved, lang))

        return self._on_own_booking(phone, code, move)

    def _on_own_booking(
        self, phone: str, code: str, act: Callable[[Backend, Booking], Reply]
    ) -> Reply:
        """Run `act` on this phone's booking `code`; any other phone's code is an unknown one."""
        short = {"short_code": self._short_code}
        backend: Backend | None = self._services.find(Backend)  # type: ignore[type-abstract]
        if backend is None:
            return Reply("reply_unavailable")
        if not references.validate(code):
            # A typo is refused before any lookup: it reveals nothing, so it costs no guess.
            return Reply("reply_appointment_unknown", {"booking": code[:8], **short})
        try:
            booking = visible_booking(backend, code, phone)
            if booking is None:
                limiter = self._services.find(GuessLimiter)
                if limiter is not None and not limiter.guess(phone).allowed:
                    return Reply("reply_status_limited", short)
                return Reply("reply_appointment_unknown", {"booking": code[:8], **short})
            return act(backend, booking)
        except BookingClosedError:
            return Reply("reply_appointment_closed", {"booking": code})
        except BackendUnavailableError:
            return Reply("reply_unavailable")

    def _request_params(
        self, backend: Backend, request: DocumentRequest, lang: str
    ) -> dict[str, str | int]:
        doc = backend.get_document_type(request.document_code)
        office = backend.get_office(request.office_id) if request.office_id else None
        return {
            "ref": request.reference,
            "document": document_name(doc, request.document_code, lang),
            "reason": reason_text(request, doc, lang) or "-",
            "pickup": pickup_text(office, request.pickup, lang) or "-",
            "short_code": self._short_code,
        }

    def _receipt(self, phone: str, code: str, lang: str) -> Reply:
        desk: ReceiptDesk | None = self._services.find(ReceiptDesk)  # type: ignore[type-abstract]
        if desk is None:
            return Reply("reply_unavailable")
        try:
            if not code:
                return self._latest_receipts(desk, phone, lang)
            answer = desk.check(code, lang)
        except BackendUnavailableError:
            return Reply("reply_unavailable")
        if answer.status == "valid":
            return Reply("reply_receipt_valid", {"receipt_code": answer.code, **answer.params})
        if answer.status == "mistyped":
            return Reply("reply_receipt_mistyped", {"receipt_code": answer.code})
        return Reply("reply_receipt_unknown", {"receipt_code": answer.code})

    def _latest_receipts(self, desk: ReceiptDesk, phone: str, lang: str) -> Reply:
        codes = desk.latest_codes(phone, LATEST_RECEIPTS)
        if not codes:
            return Reply("reply_receipt_none", {"short_code": self._short_code})
        # One segment when it fits: drop the oldest codes first, never the newest.
        while True:
            params: dict[str, str | int] = {"codes": ", ".join(codes)}
            text = self._sms.book.message("reply_receipt_latest", lang, params)
            if len(codes) == 1 or cost(text).sms_segments <= 1:
                return Reply("reply_receipt_latest", params)
            codes = codes[:-1]


def _day(text: str, today: date) -> date | None:
    """Read `dd/mm` (the next such day, from yesterday on) or `dd/mm/yyyy`; None if no such day."""
    parts = [int(part) for part in text.split("/")]
    year = parts[2] if len(parts) == 3 else today.year
    try:
        day = date(year, parts[1], parts[0])
        if len(parts) == 2 and (today - day).days > 1:  # a day already past means next year's
            day = date(year + 1, parts[1], parts[0])
    except ValueError:
        return None
    return day
