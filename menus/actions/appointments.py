"""The appointment journeys' actions: pick a service, a day, a slot; book, move, cancel.

Words live in menus.yaml; actions return domain data (names in the caller's language, dates,
times) and outcomes. Booking is the back office's atomic operation: a slot taken by another
phone between the list and the confirm is the `full` outcome, never a double booking. SMS
confirmations are effects (rq jobs) queued once the session is saved.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final

from civic.appointments import (
    AppointmentService,
    Booking,
    BookingClosedError,
    SlotFullError,
    SlotNotOfferedError,
    UnknownServiceError,
    clock_text,
    free_slots,
)
from civic.ports import Backend, BackendUnavailableError
from civic.privacy import visible_booking
from civic.wording import local
from menus.registry import ActionContext, ActionResult, Effect, Option, actions
from sms.appointment_alerts import send_appointment_alert

SMS_QUEUE: Final = "sms"
NAME_LABEL_MAX: Final = 30
DAY_LABEL_MAX: Final = 16  # "07/12 (120)"
SLOT_LABEL_MAX: Final = 12  # "09:30 (3)"
MINE_LABEL_MAX: Final = 12 + 1 + NAME_LABEL_MAX  # "07/12 09:30 État civil"
MINE_LIMIT: Final = 10


def _backend(ctx: ActionContext) -> Backend:
    return ctx.services.get(Backend)  # type: ignore[type-abstract]


def _now() -> datetime:
    return datetime.now(UTC)


def _service(ctx: ActionContext) -> AppointmentService:
    code = str(ctx.data.get("appt_service", ""))
    service = _backend(ctx).get_appointment_service(code) if code else None
    if service is None:
        raise BackendUnavailableError(f"appointment service {code!r} vanished")
    return service


def _day(ctx: ActionContext) -> date:
    return date.fromisoformat(str(ctx.data.get("appt_day", "")))


def _alert(booking: Booking, event: str) -> Effect:
    return Effect(
        queue=SMS_QUEUE,
        func=send_appointment_alert,
        args=(booking.code, event),
        job_id=f"appointment-{event}-{booking.code}-{booking.day.isoformat()}-{booking.minute}",
    )


def _shown(service: AppointmentService | None, booking: Booking, lang: str) -> dict[str, str]:
    return {
        "appt_code": booking.code,
        "appt_service": booking.service_code,
        "appt_service_name": local(service.names, lang) if service else booking.service_code,
        "appt_date": booking.day.strftime("%d/%m/%Y"),
        "appt_time": clock_text(booking.minute),
    }


@actions.register("appointments.start", outcomes={"ok", "chosen"})
def start(ctx: ActionContext) -> ActionResult:
    """Begin a fresh booking; `args: {service: code}` picks the service (outcome `chosen`)."""
    service = ctx.args.get("service")
    if service:
        return ActionResult(
            outcome="chosen", data={"appt_move_code": None, "appt_service": service}
        )
    return ActionResult(data={"appt_move_code": None})


@actions.register("appointments.start_for_request", outcomes={"chosen", "error"})
def start_for_request(ctx: ActionContext) -> ActionResult:
    """Begin a booking at the service of the tracked request that needs an appointment."""
    # civic.track saved the document's appointment service; the days screen reads appt_service.
    code = str(ctx.data.get("track_appt_service") or "")
    if not code or _backend(ctx).get_appointment_service(code) is None:
        raise BackendUnavailableError(f"appointment service {code!r} vanished")
    return ActionResult(outcome="chosen", data={"appt_move_code": None, "appt_service": code})


@actions.register("appointments.services", option_label_max=NAME_LABEL_MAX)
def services(ctx: ActionContext) -> ActionResult:
    """Offer the services one may book."""
    found = _backend(ctx).list_appointment_services()
    return ActionResult(options=[Option(s.code, local(s.names, ctx.lang)) for s in found])


@actions.register("appointments.days", option_label_max=DAY_LABEL_MAX)
def days(ctx: ActionContext) -> ActionResult:
    """Offer the next open days that still have a free place, with how many."""
    service = _service(ctx)
    open_days = service.bookable_days(_now())
    if not open_days:
        return ActionResult(options=[])
    taken = _backend(ctx).taken_places(service.code, open_days[0], open_days[-1])
    options = []
    for day in open_days:
        free = sum(s.free for s in free_slots(service, day, taken.get(day, {})))
        if free:
            options.append(Option(day.isoformat(), f"{day:%d/%m} ({free})"))
    return ActionResult(options=options)


@actions.register("appointments.slots", option_label_max=SLOT_LABEL_MAX)
def slots(ctx: ActionContext) -> ActionResult:
    """Offer the chosen day's free slots (the engine pages them)."""
    service, day = _service(ctx), _day(ctx)
    taken = _backend(ctx).taken_places(service.code, day, day).get(day, {})
    return ActionResult(
        options=[
            Option(str(s.minute), f"{clock_text(s.minute)} ({s.free})")
            for s in free_slots(service, day, taken)
        ]
    )


@actions.register("appointments.summary", outcomes={"ok", "error"})
def summary(ctx: ActionContext) -> ActionResult:
    """Put the chosen service, day and time in the caller's words for the confirm screen."""
    service = _service(ctx)
    minute = int(str(ctx.data.get("appt_slot", "0")))
    return ActionResult(
        data={
            "appt_service_name": local(service.names, ctx.lang),
            "appt_date": _day(ctx).strftime("%d/%m/%Y"),
            "appt_time": clock_text(minute),
        }
    )


@actions.register("appointments.book", outcomes={"booked", "moved", "full", "closed", "error"})
def book(ctx: ActionContext) -> ActionResult:
    """Book the chosen slot (or move the booking being moved there); the SMS follows."""
    backend = _backend(ctx)
    service, day = _service(ctx), _day(ctx)
    minute = int(str(ctx.data.get("appt_slot", "0")))
    moving = ctx.data.get("appt_move_code")
    try:
        if moving:
            mine = visible_booking(backend, str(moving), ctx.msisdn)
            if mine is None:
                return ActionResult(outcome="closed")
            booking = backend.move_booking(mine.code, day=day, minute=minute)
            event = "moved"
        else:
            booking = backend.book_appointment(
                service_code=service.code,
                day=day,
                minute=minute,
                phone=ctx.msisdn,
                # A retried or double-tapped confirm must not book two places.
                idempotency_key=f"ussd:{ctx.session_id}:{service.code}:{day}:{minute}",
            )
            event = "booked"
    except SlotFullError:
        return ActionResult(outcome="full")
    except (SlotNotOfferedError, BookingClosedError):
        return ActionResult(outcome="closed")
    except UnknownServiceError as error:
        raise BackendUnavailableError(f"appointment service {service.code!r} vanished") from error
    data = {**_shown(service, booking, ctx.lang), "appt_move_code": None}
    return ActionResult(outcome=event, data=data, effects=[_alert(booking, event)])


@actions.register("appointments.mine", option_label_max=MINE_LABEL_MAX)
def mine(ctx: ActionContext) -> ActionResult:
    """Offer this phone's coming appointments, soonest first."""
    backend = _backend(ctx)
    names = {s.code: local(s.names, ctx.lang) for s in backend.list_appointment_services()}
    today = _now().date() - timedelta(days=1)  # a booking of today (any zone) is still shown
    return ActionResult(
        options=[
            Option(
                b.code,
                f"{b.day:%d/%m} {clock_text(b.minute)} {names.get(b.service_code, '')}"[
                    :MINE_LABEL_MAX
                ],
            )
            for b in backend.list_bookings(phone=ctx.msisdn, limit=MINE_LIMIT)
            if b.day >= today
        ]
    )


@actions.register("appointments.load", outcomes={"ok", "not_found", "error"})
def load(ctx: ActionContext) -> ActionResult:
    """Load the chosen booking of this phone for the manage screen."""
    backend = _backend(ctx)
    booking = visible_booking(backend, str(ctx.data.get("appt_code", "")), ctx.msisdn)
    if booking is None or not booking.active:
        return ActionResult(outcome="not_found")
    service = backend.get_appointment_service(booking.service_code)
    return ActionResult(data=_shown(service, booking, ctx.lang))


@actions.register("appointments.move_start", outcomes={"ok"})
def move_start(ctx: ActionContext) -> ActionResult:
    """Remember which booking the next confirmed slot replaces."""
    return ActionResult(data={"appt_move_code": ctx.data.get("appt_code")})


@actions.register("appointments.cancel", outcomes={"cancelled", "closed", "error"})
def cancel(ctx: ActionContext) -> ActionResult:
    """Cancel this phone's chosen booking; the SMS follows."""
    backend = _backend(ctx)
    booking = visible_booking(backend, str(ctx.data.get("appt_code", "")), ctx.msisdn)
    if booking is None:
        return ActionResult(outcome="closed")
    try:
        cancelled = backend.cancel_booking(booking.code)
    except BookingClosedError:
        return ActionResult(outcome="closed")
    return ActionResult(outcome="cancelled", effects=[_alert(cancelled, "cancelled")])
