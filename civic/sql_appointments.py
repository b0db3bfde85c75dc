"""Appointments on SQL: services, bookings, the agenda and reminders.

Booking is atomic without locks: each attempt inserts (or, for a move, updates) one row on a
(service, counter, day, minute, seat) that the unique constraint `uq_civic_appointment_place`
lets exist once, in its own short transaction. Two phones racing for the last place both try
the same seat; the database lets one through and refuses the other (SQLite serialises
writers, PostgreSQL makes the second wait on the first's index entry and then fails it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from civic.appointments import (
    AppointmentService,
    Attendance,
    Booking,
    BookingClosedError,
    BookingStatus,
    SlotFullError,
    SlotNotOfferedError,
    UnknownBookingError,
    UnknownServiceError,
)
from civic.sql_engine import guarded
from civic.sql_rows import BOOKINGS, SERVICES
from civic.sql_tables import appointment_services, appointments

_NEW_CODE_TRIES: Final = 8
_HOLDING: Final = (BookingStatus.BOOKED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW)


class SqlAppointments:
    """The civic_appointment_services and civic_appointments tables."""

    def __init__(
        self, engine: Engine, *, code_factory: Callable[[], str], clock: Callable[[], datetime]
    ) -> None:
        self._engine = engine
        self._new_code = code_factory
        self._clock = clock

    # --- catalogue ------------------------------------------------------------------------

    @guarded
    def list_appointment_services(self) -> list[AppointmentService]:
        """Return the services one may book, in display order."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(appointment_services).order_by(appointment_services.c.position)
            ).all()
        return [SERVICES.read(row) for row in rows]

    @guarded
    def get_appointment_service(self, code: str) -> AppointmentService | None:
        """Return one service."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(appointment_services).where(appointment_services.c.code == code)
            ).first()
        return None if row is None else SERVICES.read(row)

    @guarded
    def save_appointment_services(self, services: list[AppointmentService]) -> None:
        """Replace the services (seeding): bookings of a removed service stay."""
        with self._engine.begin() as conn:
            conn.execute(appointment_services.delete())
            for position, service in enumerate(services):
                conn.execute(
                    appointment_services.insert().values(
                        position=position, **SERVICES.values(service)
                    )
                )

    def _service(self, code: str) -> AppointmentService:
        service = self.get_appointment_service(code)
        if service is None:
            raise UnknownServiceError(code)
        return service

    # --- availability ---------------------------------------------------------------------

    @guarded
    def taken_places(
        self, service_code: str, first: date, last: date
    ) -> dict[date, dict[int, int]]:
        """Return the places held per day and start minute between two local days."""
        c = appointments.c
        query = (
            sa.select(c.day, c.minute, sa.func.count())
            .where(c.service_code == service_code, c.day >= first, c.day <= last)
            .where(c.seat.is_not(None))
            .group_by(c.day, c.minute)
        )
        taken: dict[date, dict[int, int]] = {}
        with self._engine.connect() as conn:
            for day, minute, count in conn.execute(query):
                taken.setdefault(day, {})[minute] = int(count)
        return taken

    # --- booking --------------------------------------------------------------------------

    def book_appointment(
        self, *, service_code: str, day: date, minute: int, phone: str, idempotency_key: str
    ) -> Booking:
        """Book one place; the same key returns the same booking.

        Raise UnknownServiceError, SlotNotOfferedError (closed, past, beyond the horizon,
        not a slot) or SlotFullError (every place taken, by us or a racing phone).
        """
        known = self._by_key(idempotency_key)
        if known is not None:
            return known
        service = self._service(service_code)
        now = self._clock()
        if not service.offers(day, minute, now):
            raise SlotNotOfferedError(f"{service_code} {day} {minute}")
        remind = _reminder(service, day, now)
        for counter_id, seat in _places(service):
            for _ in range(_NEW_CODE_TRIES):
                code = self._new_code()
                values = {
                    "code": code,
                    "service_code": service_code,
                    "counter_id": counter_id,
                    "day": day,
                    "minute": minute,
                    "seat": seat,
                    "phone": phone,
                    "status": BookingStatus.BOOKED.value,
                    "created_at": now,
                    "remind_from": remind[0],
                    "remind_until": remind[1],
                    "idempotency_key": idempotency_key,
                }
                if self._claim(appointments.insert().values(values)) is not None:
                    return self._get(code)
                again = self._by_key(idempotency_key)
                if again is not None:
                    return again  # the same hop, retried concurrently
                if self._get_or_none(code) is None:
                    break  # not the code: the place is taken, try the next one
        raise SlotFullError(f"{service_code} {day} {minute}")

    def move_booking(self, code: str, *, day: date, minute: int) -> Booking:
        """Move an active booking to another slot of its service (same code)."""
        current = self._get(code)
        if not current.active:
            raise BookingClosedError(current.status)
        if (current.day, current.minute) == (day, minute):
            return current
        service = self._service(current.service_code)
        now = self._clock()
        if not service.offers(day, minute, now):
            raise SlotNotOfferedError(f"{service.code} {day} {minute}")
        remind = _reminder(service, day, now)
        c = appointments.c
        for counter_id, seat in _places(service):
            update = (
                appointments.update()
                .where(c.code == code, c.status == BookingStatus.BOOKED.value)
                .values(
                    counter_id=counter_id,
                    day=day,
                    minute=minute,
                    seat=seat,
                    updated_at=now,
                    remind_from=remind[0],
                    remind_until=remind[1],
                    reminded_at=None,
                )
            )
            changed = self._claim(update)
            if changed == 0:
                raise BookingClosedError(self._get(code).status)
            if changed is not None:
                return self._get(code)
        raise SlotFullError(f"{service.code} {day} {minute}")

    @guarded
    def cancel_booking(self, code: str) -> Booking:
        """Cancel an active booking and free its place."""
        c = appointments.c
        with self._engine.begin() as conn:
            changed = conn.execute(
                appointments.update()
                .where(c.code == code, c.status == BookingStatus.BOOKED.value)
                .values(status=BookingStatus.CANCELLED.value, seat=None, updated_at=self._clock())
            ).rowcount
        if changed == 0:
            raise BookingClosedError(self._get(code).status)
        return self._get(code)

    @guarded
    def mark_booking(self, code: str, attendance: Attendance, *, agent_id: str) -> Booking:
        """Record at the counter that the citizen came or did not (once)."""
        c = appointments.c
        with self._engine.begin() as conn:
            changed = conn.execute(
                appointments.update()
                .where(c.code == code, c.status == BookingStatus.BOOKED.value)
                .values(status=attendance.value, agent_id=agent_id, updated_at=self._clock())
            ).rowcount
        if changed == 0:
            raise BookingClosedError(self._get(code).status)
        return self._get(code)

    # --- reading --------------------------------------------------------------------------

    @guarded
    def get_booking(self, code: str) -> Booking | None:
        """Return a booking by code."""
        return self._get_or_none(code)

    @guarded
    def list_bookings(self, *, phone: str, limit: int = 10) -> list[Booking]:
        """Return a phone's active bookings, soonest first."""
        c = appointments.c
        query = (
            sa.select(appointments)
            .where(c.phone == phone, c.status == BookingStatus.BOOKED.value)
            .order_by(c.day, c.minute)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [_booking(row) for row in conn.execute(query)]

    @guarded
    def agenda(self, service_code: str, day: date, counter_id: str | None = None) -> list[Booking]:
        """Return the day's bookings that hold a place, by time and counter."""
        c = appointments.c
        query = sa.select(appointments).where(
            c.service_code == service_code,
            c.day == day,
            c.status.in_([s.value for s in _HOLDING]),
        )
        if counter_id is not None:
            query = query.where(c.counter_id == counter_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(c.minute, c.counter_id, c.seat)).all()
        return [_booking(row) for row in rows]

    # --- reminders ------------------------------------------------------------------------

    @guarded
    def due_reminders(self, now: datetime, limit: int = 500) -> list[Booking]:
        """Return active bookings whose reminder window holds `now` and that had none."""
        c = appointments.c
        query = (
            sa.select(appointments)
            .where(c.status == BookingStatus.BOOKED.value, c.reminded_at.is_(None))
            .where(c.remind_from <= now, c.remind_until > now)
            .order_by(c.remind_from)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [_booking(row) for row in conn.execute(query)]

    @guarded
    def mark_reminded(self, code: str, at: datetime) -> bool:
        """Claim a booking's reminder; False when another sweep (or a cancel) came first."""
        c = appointments.c
        with self._engine.begin() as conn:
            changed = conn.execute(
                appointments.update()
                .where(c.code == code, c.status == BookingStatus.BOOKED.value)
                .where(c.reminded_at.is_(None))
                .values(reminded_at=at)
            ).rowcount
        return bool(changed)

    # --- helpers --------------------------------------------------------------------------

    @guarded
    def _claim(self, statement: sa.Insert | sa.Update) -> int | None:
        """Run one write in its own transaction; return its row count, None on a unique clash."""
        try:
            with self._engine.begin() as conn:
                return int(conn.execute(statement).rowcount)
        except exc.IntegrityError:
            return None

    @guarded
    def _by_key(self, key: str) -> Booking | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(appointments).where(appointments.c.idempotency_key == key)
            ).first()
        return None if row is None else _booking(row)

    def _get_or_none(self, code: str) -> Booking | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(appointments).where(appointments.c.code == code)).first()
        return None if row is None else _booking(row)

    def _get(self, code: str) -> Booking:
        found = self._get_or_none(code)
        if found is None:
            raise UnknownBookingError(code)
        return found


def _places(service: AppointmentService) -> Iterator[tuple[str, int]]:
    """Yield every (counter, seat) of a slot, filling the first counter's places first."""
    for counter in service.counters:
        for seat in range(service.capacity):
            yield counter.id, seat


def _reminder(
    service: AppointmentService, day: date, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """Return the reminder window, or none when booked after it opened (the SMS just went)."""
    start, end = service.reminder_window(day)
    if now >= start:
        return None, None
    return start, end


def _booking(row: sa.Row[Any]) -> Booking:
    return BOOKINGS.read(row)
