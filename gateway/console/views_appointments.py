"""The day's appointments per counter, and attendance (attended, no-show)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue

from civic import references
from civic.appointments import (
    Attendance,
    BookingClosedError,
    UnknownBookingError,
    clock_text,
)
from civic.ports import Backend
from gateway.console.accounts import Role
from gateway.console.web import audit, blueprint, nav, page, refusal, requires, staff, t
from gateway.services import services_of
from runtime.masking import mask_phone

nav("console.appointments", "nav_appointments", Role.AGENT, order=20)


def _backend() -> Backend:
    return services_of(current_app).get(Backend)  # type: ignore[type-abstract]


@blueprint.get("/appointments")
@requires(Role.AGENT)
def appointments() -> ResponseReturnValue:
    """Show a day's bookings (today by default) of every service, counter by counter."""
    backend = _backend()
    now = datetime.now(UTC)
    try:
        chosen: date | None = date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        chosen = None
    services = []
    for service in backend.list_appointment_services():
        day = chosen or service.local_today(now)
        counters = [
            {
                "counter": counter,
                "bookings": [
                    {"booking": b, "time": clock_text(b.minute), "phone": mask_phone(b.phone)}
                    for b in backend.agenda(service.code, day, counter.id)
                ],
            }
            for counter in service.counters
        ]
        services.append({"service": service, "day": day, "counters": counters})
    code = request.args.get("marked", "")
    status = request.args.get("status", "")
    notice = (
        t("marked", code=code, status=t(f"booking_{status}"))
        if references.validate(code) and status in set(Attendance)
        else ""
    )
    return page(
        "console/appointments.html",
        services=services,
        notice=notice,
        day=chosen.isoformat() if chosen else "",
    )


@blueprint.post("/appointments/<code>/attendance")
@requires(Role.AGENT)
def attendance(code: str) -> ResponseReturnValue:
    """Record that the citizen came or did not; once per booking (409 when closed)."""
    user = staff()
    assert user is not None
    raw = request.form.get("attendance", "")
    if not references.validate(code) or raw not in set(Attendance):
        return refusal("not_found", 404)
    try:
        marked = _backend().mark_booking(code, Attendance(raw), agent_id=user.email)
    except UnknownBookingError:
        return refusal("not_found", 404)
    except BookingClosedError as closed:
        audit("appointment.refused", target=code, detail=f"{raw}: {closed.status.value}")
        return refusal("booking_closed", 409, status=t(f"booking_{closed.status.value}"))
    audit("appointment.attendance", target=code, detail=marked.status.value)
    return redirect(
        url_for(
            "console.appointments",
            marked=code,
            status=marked.status.value,
            day=marked.day.isoformat(),
        )
    )
