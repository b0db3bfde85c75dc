"""Appointments: services with counters, opening hours, slots, bookings and their reminders.

A service is data (the `appointments:` section of a catalogue such as cities/<id>/catalogue.yaml):
its counters, opening hours per weekday in the city's local time, slot length, places per
slot and counter, closed days and how far ahead one may book. This module computes the
calendar (pure, no I/O); storing bookings atomically is an adapter's job (civic.sql_appointments).
Nothing here knows of USSD or SMS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from civic.ports import BackendUnavailableError, CivicError, Localized

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NAME_MAX: Final = 30  # service and counter names (USSD option labels, SMS {service})
PLACE_MAX: Final = 60  # where to go (SMS {place})
# The reminder goes the day before, between these local times (outside: quiet hours).
DEFAULT_REMINDER_FROM: Final = "18:00"
DEFAULT_REMINDER_UNTIL: Final = "20:30"
_HOURS: Final = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")
_TIME: Final = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class BookingStatus(StrEnum):
    """Where a booking stands."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


class Attendance(StrEnum):
    """What an agent records at the counter."""

    ATTENDED = "attended"
    NO_SHOW = "no_show"


class AppointmentError(CivicError):
    """Base of the appointment errors."""


class NotSupportedError(BackendUnavailableError):
    """This back office offers no appointments (the screens say "unavailable")."""


class UnknownServiceError(AppointmentError):
    """No appointment service has that code."""


class SlotNotOfferedError(AppointmentError):
    """The slot is not bookable: closed day, outside the hours, past or beyond the horizon."""


class SlotFullError(AppointmentError):
    """Every place of the slot is taken."""


class UnknownBookingError(AppointmentError):
    """No booking has that code."""


class BookingClosedError(AppointmentError):
    """The booking is cancelled or already settled at the counter: it cannot change."""

    def __init__(self, status: BookingStatus) -> None:
        super().__init__(f"the booking is {status.value}")
        self.status = status


class CatalogueError(ValueError):
    """The appointments section of a catalogue is wrong; `problems` says where."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class Counter:
    """A desk of a service; each counter has `capacity` places per slot."""

    id: str
    names: Localized


@dataclass(frozen=True, slots=True)
class AppointmentService:
    """A service citizens book a slot at, all times in the service's local time zone."""

    code: str
    names: Localized
    place: Localized  # where to go, for the SMS
    timezone: str
    counters: tuple[Counter, ...]
    hours: Mapping[int, tuple[tuple[int, int], ...]]  # weekday (0 = Monday) -> (from, to) minutes
    slot_minutes: int
    capacity: int  # places per slot and counter
    closed_days: frozenset[date] = frozenset()
    horizon_days: int = 14  # bookable from tomorrow up to this many days ahead
    reminder_from: int = 18 * 60  # local minutes of the day before the appointment
    reminder_until: int = 20 * 60 + 30

    @property
    def zone(self) -> ZoneInfo:
        """Return the service's time zone."""
        return ZoneInfo(self.timezone)

    def counter(self, counter_id: str) -> Counter | None:
        """Return one counter."""
        return next((c for c in self.counters if c.id == counter_id), None)

    @property
    def places(self) -> int:
        """Return the places of one slot over every counter."""
        return self.capacity * len(self.counters)

    def slots_on(self, day: date) -> list[int]:
        """Return the start minutes of the day's slots (none on a closed day)."""
        if day in self.closed_days:
            return []
        starts: list[int] = []
        for start, end in self.hours.get(day.weekday(), ()):
            starts.extend(range(start, end, self.slot_minutes))
        return starts

    def local_today(self, now: datetime) -> date:
        """Return the service's local date at `now`."""
        return now.astimezone(self.zone).date()

    def bookable_days(self, now: datetime) -> list[date]:
        """Return the open days from tomorrow (local) to the horizon, in order."""
        today = self.local_today(now)
        days = (today + timedelta(days=n) for n in range(1, self.horizon_days + 1))
        return [day for day in days if self.slots_on(day)]

    def offers(self, day: date, minute: int, now: datetime) -> bool:
        """Return whether the slot exists and may be booked at `now`."""
        return day in self.bookable_days(now) and minute in self.slots_on(day)

    def starts_at(self, day: date, minute: int) -> datetime:
        """Return a slot's start as an aware UTC datetime (a DST gap or overlap resolves once)."""
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def reminder_window(self, day: date) -> tuple[datetime, datetime]:
        """Return when a reminder for an appointment on `day` may go (UTC), the day before."""
        before = day - timedelta(days=1)
        return self.starts_at(before, self.reminder_from), self.starts_at(
            before, self.reminder_until
        )


@dataclass(frozen=True, slots=True)
class Booking:
    """One place booked by a phone on a slot of a service's counter."""

    code: str  # digits with a Damm check digit (civic.references)
    service_code: str
    counter_id: str
    day: date  # local
    minute: int  # local start, minutes after midnight
    phone: str
    status: BookingStatus
    created_at: datetime
    reminded_at: datetime | None = None
    updated_at: datetime | None = None
    agent_id: str | None = None

    @property
    def active(self) -> bool:
        """Return whether the booking still holds its place and may change."""
        return self.status is BookingStatus.BOOKED


@dataclass(frozen=True, slots=True)
class SlotAvailability:
    """How many places of a slot are still free."""

    minute: int
    free: int


@dataclass(frozen=True, slots=True)
class DayAvailability:
    """An open day and how many places it still has."""

    day: date
    free: int
    slots: tuple[SlotAvailability, ...] = field(default_factory=tuple)


def clock_text(minute: int) -> str:
    """Return `09:30` for 570."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def free_slots(
    service: AppointmentService, day: date, taken: Mapping[int, int]
) -> list[SlotAvailability]:
    """Return the day's slots with free places, given the places taken per start minute."""
    slots = (SlotAvailability(m, service.places - taken.get(m, 0)) for m in service.slots_on(day))
    return [slot for slot in slots if slot.free > 0]


# --- the catalogue's appointments section -------------------------------------------------


def _minutes(text: str) -> int:
    match = _TIME.match(text)
    if match is None:
        raise ValueError(text)
    return int(match.group(1)) * 60 + int(match.group(2))


def _texts(raw: Any, where: str, languages: Sequence[str], limit: int, out: list[str]) -> Localized:
    if not isinstance(raw, Mapping):
        out.append(f"{where}: expected texts per language")
        return {}
    texts = {str(k): str(v) for k, v in raw.items()}
    out.extend(f"{where}: no text in {lang}" for lang in languages if not texts.get(lang))
    out.extend(f"{where}.{k}: longer than {limit}" for k, v in texts.items() if len(v) > limit)
    return texts


def _hours(
    raw: Any, where: str, slot: int, out: list[str]
) -> dict[int, tuple[tuple[int, int], ...]]:
    if not isinstance(raw, Mapping):
        out.append(f"{where}: expected weekday -> [HH:MM-HH:MM, ...]")
        return {}
    hours: dict[int, tuple[tuple[int, int], ...]] = {}
    for name, spans in raw.items():
        if name not in WEEKDAYS:
            out.append(f"{where}.{name}: not a weekday ({', '.join(WEEKDAYS)})")
            continue
        parsed: list[tuple[int, int]] = []
        for span in spans if isinstance(spans, list) else [spans]:
            match = _HOURS.match(str(span))
            if match is None:
                out.append(f"{where}.{name}: {span!r} is not HH:MM-HH:MM")
                continue
            start = int(match.group(1)) * 60 + int(match.group(2))
            end = int(match.group(3)) * 60 + int(match.group(4))
            if end <= start:
                out.append(f"{where}.{name}: {span} ends before it starts")
            elif slot > 0 and (end - start) % slot:
                out.append(f"{where}.{name}: slot length {slot} min does not divide {span}")
            else:
                parsed.append((start, end))
        hours[WEEKDAYS.index(name)] = tuple(sorted(parsed))
    return hours


def _service(
    raw: Any, index: int, tz: str, languages: Sequence[str], out: list[str]
) -> AppointmentService | None:
    where = f"appointments.services[{index}]"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("code"), str):
        out.append(f"{where}: expected a mapping with a code")
        return None
    where = f"appointments.{raw['code']}"
    slot = raw.get("slot_minutes")
    capacity = raw.get("capacity")
    if not isinstance(slot, int) or slot <= 0:
        out.append(f"{where}.slot_minutes: expected a positive number of minutes")
        slot = 0
    if not isinstance(capacity, int) or capacity <= 0:
        out.append(f"{where}.capacity: expected a positive number of places")
        capacity = 1
    counters_raw = raw.get("counters") or []
    counters = tuple(
        Counter(
            str(c.get("id")),
            _texts(c.get("names"), f"{where}.counters.{c.get('id')}", languages, NAME_MAX, out),
        )
        for c in counters_raw
        if isinstance(c, Mapping)
    )
    if not counters:
        out.append(f"{where}.counters: at least one counter")
    closed: set[date] = set()
    for day in raw.get("closed_days") or []:
        if isinstance(day, date):
            closed.add(day)
        else:
            try:
                closed.add(date.fromisoformat(str(day)))
            except ValueError:
                out.append(f"{where}.closed_days: {day!r} is not a date (YYYY-MM-DD)")
    reminder = raw.get("reminder") or {}
    try:
        r_from = _minutes(str(reminder.get("from", DEFAULT_REMINDER_FROM)))
        r_until = _minutes(str(reminder.get("until", DEFAULT_REMINDER_UNTIL)))
    except ValueError as bad:
        out.append(f"{where}.reminder: {bad} is not HH:MM")
        r_from, r_until = _minutes(DEFAULT_REMINDER_FROM), _minutes(DEFAULT_REMINDER_UNTIL)
    if r_until <= r_from:
        out.append(f"{where}.reminder: `until` must come after `from`")
    horizon = raw.get("horizon_days", 14)
    if not isinstance(horizon, int) or not 1 <= horizon <= 90:
        out.append(f"{where}.horizon_days: expected 1..90")
        horizon = 14
    return AppointmentService(
        code=raw["code"],
        names=_texts(raw.get("names"), f"{where}.names", languages, NAME_MAX, out),
        place=_texts(raw.get("place"), f"{where}.place", languages, PLACE_MAX, out),
        timezone=str(raw.get("timezone", tz)),
        counters=counters,
        hours=_hours(raw.get("hours"), f"{where}.hours", slot, out),
        slot_minutes=slot or 1,
        capacity=capacity,
        closed_days=frozenset(closed),
        horizon_days=horizon,
        reminder_from=r_from,
        reminder_until=r_until,
    )


def check_catalogue(
    section: Any, languages: Sequence[str] = ("fr", "en", "sw")
) -> tuple[list[AppointmentService], list[str]]:
    """Read an `appointments:` section; return its services and every problem found."""
    out: list[str] = []
    if section is None:
        return [], out
    if not isinstance(section, Mapping):
        return [], ["appointments: expected {timezone, services}"]
    tz = str(section.get("timezone", ""))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        out.append(f"appointments.timezone: unknown time zone {tz!r}")
        tz = "UTC"
    services: list[AppointmentService] = []
    for index, raw in enumerate(section.get("services") or []):
        service = _service(raw, index, tz, languages, out)
        if service is not None:
            services.append(service)
    codes = [s.code for s in services]
    out.extend(
        f"appointments.{c}: defined twice" for c in sorted({c for c in codes if codes.count(c) > 1})
    )
    return services, out


def parse_catalogue(
    section: Any, languages: Sequence[str] = ("fr", "en", "sw")
) -> list[AppointmentService]:
    """Return the services of an `appointments:` section; raise CatalogueError on any problem."""
    services, problems = check_catalogue(section, languages)
    if problems:
        raise CatalogueError(problems)
    return services


def service_to_row(service: AppointmentService) -> dict[str, Any]:
    """Return the JSON-able description of a service (the agents API shows it)."""
    return {
        "code": service.code,
        "names": dict(service.names),
        "place": dict(service.place),
        "timezone": service.timezone,
        "counters": [{"id": c.id, "names": dict(c.names)} for c in service.counters],
        "hours": {
            WEEKDAYS[d]: [f"{clock_text(a)}-{clock_text(b)}" for a, b in spans]
            for d, spans in service.hours.items()
        },
        "slot_minutes": service.slot_minutes,
        "capacity": service.capacity,
        "closed_days": sorted(d.isoformat() for d in service.closed_days),
        "horizon_days": service.horizon_days,
        "reminder": {
            "from": clock_text(service.reminder_from),
            "until": clock_text(service.reminder_until),
        },
    }
