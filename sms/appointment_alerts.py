"""The citizen's SMS about their appointment: confirmation, move, cancel and the reminder.

Confirmations are rq jobs the USSD journey returns as effects (nothing is sent inside a hop);
the SMS cancel and move answer with their own reply (sms/inbound.py). Reminders come from a periodic
sweep (`reminder_tick`, started by the worker): a booking's reminder window is the day before
the appointment between the service's `reminder.from` and `reminder.until`, local time, so it
never lands in quiet hours; a sweep that runs after the window sends nothing. Every SMS has an
idempotency key naming the booking and its slot, so a re-run job or an overlapping sweep
never sends twice, and a moved booking is reminded of its new slot.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Final

import runtime
from civic.appointments import AppointmentService, Booking, clock_text
from civic.ports import Backend
from civic.wording import local
from runtime.jobs import Jobs, schedule_periodic
from runtime.masking import mask_phone
from sms.preferences import Preferences
from sms.service import SmsService

log = logging.getLogger(__name__)

SMS_QUEUE: Final = "sms"
TEMPLATES: Final = {
    "booked": "appointment_booked",
    "moved": "appointment_moved",
    "cancelled": "appointment_cancelled",
}


def booking_params(
    service: AppointmentService | None, booking: Booking, lang: str
) -> dict[str, str | int]:
    """Return the SMS parameters of a booking, in `lang`."""
    return {
        "booking": booking.code,
        "service": local(service.names, lang) if service else booking.service_code,
        "place": local(service.place, lang) if service else "-",
        "date": booking.day.strftime("%d/%m/%Y"),
        "time": clock_text(booking.minute),
    }


def _slot_key(booking: Booking) -> str:
    return f"{booking.code}:{booking.day.isoformat()}:{booking.minute}"


def announce(services: runtime.Container, booking: Booking, event: str) -> str:
    """Queue the SMS telling `event` (booked, moved, cancelled) about a booking."""
    sms = services.find(SmsService)
    if sms is None:
        log.warning("booking %s: no SmsService wired, %s SMS skipped", booking.code, event)
        return "skipped"
    backend = services.get(Backend)  # type: ignore[type-abstract]
    lang = sms.book.language(_language(services, backend, booking.phone))
    service = backend.get_appointment_service(booking.service_code)
    result = sms.send(
        booking.phone,
        TEMPLATES[event],
        booking_params(service, booking, lang),
        idempotency_key=f"appointment:{event}:{_slot_key(booking)}",
        lang=lang,
    )
    log.info(
        "booking %s: %s SMS to %s -> %s",
        booking.code,
        event,
        mask_phone(booking.phone),
        result.status,
    )
    return str(result.status)


def send_appointment_alert(code: str, event: str) -> str:
    """rq job: queue the SMS about booking `code` (event: booked, moved, cancelled)."""
    services = runtime.current()
    booking = services.get(Backend).get_booking(code)  # type: ignore[type-abstract]
    if booking is None:
        return "unknown_booking"
    return announce(services, booking, event)


def send_due_reminders(services: runtime.Container, now: datetime) -> int:
    """Send every reminder whose window holds `now`; return how many were queued."""
    backend = services.get(Backend)  # type: ignore[type-abstract]
    sms = services.get(SmsService)
    sent = 0
    for booking in backend.due_reminders(now):
        lang = sms.book.language(_language(services, backend, booking.phone))
        service = backend.get_appointment_service(booking.service_code)
        # Send first (idempotent by key), then claim: a crash in between re-sends nothing.
        sms.send(
            booking.phone,
            "notice_appointment_reminder",
            booking_params(service, booking, lang),
            idempotency_key=f"appointment:reminder:{_slot_key(booking)}",
            lang=lang,
        )
        if backend.mark_reminded(booking.code, now):
            sent += 1
    if sent:
        log.info("appointments: %d reminder(s) queued", sent)
    return sent


def reminder_tick(interval_seconds: float) -> int:
    """rq job: send the due reminders, then schedule the next sweep."""
    services = runtime.current()
    try:
        return send_due_reminders(services, datetime.now(UTC))
    finally:
        schedule_reminders(services.get(Jobs), interval_seconds)  # type: ignore[type-abstract]


def schedule_reminders(jobs: Jobs, interval_seconds: float, now: float | None = None) -> None:
    """Enqueue the next reminder sweep; every process asking for one time bucket gets one job."""
    schedule_periodic(
        jobs, SMS_QUEUE, reminder_tick, interval_seconds, key="appointment-reminders", now=now
    )


def _language(services: runtime.Container, backend: Backend, phone: str) -> str | None:
    prefs = services.find(Preferences)
    chosen = prefs.language(phone) if prefs is not None else None
    if chosen:
        return chosen
    citizen = backend.get_citizen(phone)
    return citizen.language if citizen is not None else None
