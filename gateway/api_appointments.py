"""Agents' JSON API on appointments (docs/openapi/agents.yaml).

    GET  /api/v1/appointments/services
    GET  /api/v1/appointments/agenda?service=&day=YYYY-MM-DD&counter=
    POST /api/v1/appointments/<code>/attendance  {"attendance": "attended" | "no_show"}

The agenda is a counter's day (the service's local day; today when `day` is absent), by time.
Agents see a booking's code and a masked phone: the citizen shows the code at the counter.
Handlers parse, call the civic Backend, render.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

import runtime
from civic import references
from civic.appointments import (
    AppointmentService,
    Attendance,
    Booking,
    BookingClosedError,
    UnknownBookingError,
    clock_text,
    service_to_row,
)
from civic.ports import Backend, BackendUnavailableError
from gateway.auth import require_api_key
from runtime.masking import mask_phone

log = logging.getLogger(__name__)

blueprint = Blueprint("api_appointments", __name__, url_prefix="/api/v1/appointments")


def _backend() -> Backend:
    services: runtime.Container = current_app.extensions["guichet"]
    return services.get(Backend)  # type: ignore[type-abstract]


def _error(http_status: int, error: str, message: str, **extra: Any) -> Response:
    response = jsonify(error=error, message=message, **extra)
    response.status_code = http_status
    return response


def _invalid(errors: dict[str, str]) -> Response:
    return _error(400, "invalid_request", "some fields are invalid", errors=errors)


@blueprint.errorhandler(BackendUnavailableError)
def _unavailable(_error_: BackendUnavailableError) -> Response:
    log.warning("agents' API: appointments unavailable: %s", _error_)
    response = _error(503, "unavailable", "the back office is unavailable; try again later")
    response.headers["Retry-After"] = "5"
    return response


def _render(booking: Booking) -> dict[str, Any]:
    return {
        "code": booking.code,
        "service": booking.service_code,
        "counter": booking.counter_id,
        "day": booking.day.isoformat(),
        "time": clock_text(booking.minute),
        "status": booking.status.value,
        "phone": mask_phone(booking.phone),
        "agent_id": booking.agent_id,
    }


def _service_json(service: AppointmentService) -> dict[str, Any]:
    row = service_to_row(service)
    return {key: row[key] for key in ("code", "names", "timezone", "counters", "slot_minutes")} | {
        "capacity": service.capacity
    }


@blueprint.get("/services")
@require_api_key("agent")
def list_services() -> Response:
    """List the appointment services with their counters."""
    return jsonify(items=[_service_json(s) for s in _backend().list_appointment_services()])


@blueprint.get("/agenda")
@require_api_key("agent")
def agenda() -> Response:
    """Return a service's (or one counter's) bookings of a day, by time."""
    errors: dict[str, str] = {}
    code = request.args.get("service", "")
    service = _backend().get_appointment_service(code) if code else None
    if service is None:
        errors["service"] = "an appointment service code (GET /api/v1/appointments/services)"
    counter = request.args.get("counter") or None
    if service is not None and counter is not None and service.counter(counter) is None:
        errors["counter"] = f"one of {', '.join(c.id for c in service.counters)}"
    raw_day = request.args.get("day")
    day: date | None = None
    if raw_day:
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            errors["day"] = "a date, YYYY-MM-DD"
    if errors or service is None:
        return _invalid(errors)
    day = day or service.local_today(datetime.now(UTC))
    items = _backend().agenda(service.code, day, counter)
    return jsonify(
        service=service.code,
        day=day.isoformat(),
        counter=counter,
        items=[_render(b) for b in items],
    )


@blueprint.post("/<code>/attendance")
@require_api_key("agent")
def attendance(code: str) -> Response:
    """Record that the citizen came (attended) or did not (no_show); once per booking."""
    if not references.validate(code):
        return _invalid({"code": "not a valid booking code (check digit)"})
    body = request.get_json(silent=True)
    fields: dict[str, Any] = body if isinstance(body, dict) else {}
    errors = {name: "unknown field" for name in fields if name != "attendance"}
    raw = fields.get("attendance")
    if not isinstance(raw, str) or raw not in {a.value for a in Attendance}:
        errors["attendance"] = "attended or no_show"
    if errors or not isinstance(raw, str):
        return _invalid(errors)
    agent_id: str = g.api_key.key_id
    try:
        marked = _backend().mark_booking(code, Attendance(raw), agent_id=agent_id)
    except UnknownBookingError:
        return _error(404, "not_found", f"no booking {code}")
    except BookingClosedError as closed:
        return _error(409, "booking_closed", str(closed), status=closed.status.value)
    return jsonify(_render(marked))
