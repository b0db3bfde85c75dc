"""Appointments on the SQL back office: the calendar, atomic booking, moves, cancels, agenda."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from civic.appointments import (
    Attendance,
    Booking,
    BookingClosedError,
    BookingStatus,
    SlotFullError,
    SlotNotOfferedError,
    UnknownServiceError,
    check_catalogue,
    free_slots,
)
from civic.privacy import visible_booking
from civic.sql import SqlBackend, make_engine
from civic.sql_tables import appointments

PHONE = "+243810000001"
OTHER = "+243810000002"
TUESDAY = date(2026, 12, 1)
NEXT_MONDAY = date(2026, 12, 7)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """Tuesday 1 December 2026, 09:00 UTC (10:00 in Goma)."""
    return Clock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


def _backend(url: str, clock: Clock) -> Iterator[SqlBackend]:
    backend = SqlBackend(make_engine(url, timeout=10.0), clock=clock)
    yield backend
    backend.dispose()


@pytest.fixture
def sql(sqlite_url: str, clock: Clock) -> Iterator[SqlBackend]:
    """Yield the seeded SQLite back office on the test's clock."""
    yield from _backend(sqlite_url, clock)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_sql(request: pytest.FixtureRequest, clock: Clock) -> Iterator[SqlBackend]:
    """Yield the seeded back office on SQLite, then on PostgreSQL."""
    url = request.getfixturevalue(f"{request.param}_url")
    yield from _backend(url, clock)


def _book(
    backend: SqlBackend, minute: int, key: str, phone: str = PHONE, day: date = NEXT_MONDAY
) -> Booking:
    return backend.book_appointment(
        service_code="health", day=day, minute=minute, phone=phone, idempotency_key=key
    )


# --- the catalogue --------------------------------------------------------------------------


def _section(**changes: Any) -> dict[str, Any]:
    service = {
        "code": "x",
        "names": {"fr": "X", "en": "X", "sw": "X"},
        "place": {"fr": "Ici", "en": "Here", "sw": "Hapa"},
        "counters": [{"id": "c1", "names": {"fr": "G1", "en": "D1", "sw": "D1"}}],
        "hours": {"mon": "08:00-12:00"},
        "slot_minutes": 30,
        "capacity": 1,
    }
    service.update(changes)
    return {"timezone": "Africa/Lubumbashi", "services": [service]}


def test_a_clean_section_has_no_problem() -> None:
    services, problems = check_catalogue(_section())
    assert problems == []
    assert services[0].slots_on(NEXT_MONDAY) == [480, 510, 540, 570, 600, 630, 660, 690]


def test_a_slot_length_that_does_not_divide_the_hours_is_reported() -> None:
    _, problems = check_catalogue(_section(slot_minutes=25, hours={"mon": "08:00-12:00"}))
    assert problems == ["appointments.x.hours.mon: slot length 25 min does not divide 08:00-12:00"]


def test_a_text_missing_in_a_language_is_reported() -> None:
    _, problems = check_catalogue(_section(names={"fr": "X", "en": "X"}))
    assert problems == ["appointments.x.names: no text in sw"]


def test_an_unknown_weekday_or_time_zone_is_reported() -> None:
    section = _section(hours={"lundi": "08:00-12:00"})
    section["timezone"] = "Africa/Nowhere"
    _, problems = check_catalogue(section)
    assert "appointments.timezone: unknown time zone 'Africa/Nowhere'" in problems
    assert any(p.startswith("appointments.x.hours.lundi: not a weekday") for p in problems)


# --- the calendar ---------------------------------------------------------------------------


def test_bookable_days_skip_weekends_closed_days_and_stop_at_the_horizon(
    sql: SqlBackend, clock: Clock
) -> None:
    civil = sql.get_appointment_service("civil_status")
    assert civil is not None
    clock.now = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)  # a Monday; Friday 25th is closed
    days = civil.bookable_days(clock.now)
    assert days[0] == date(2026, 12, 22)  # from tomorrow
    assert date(2026, 12, 25) not in days and date(2026, 12, 26) not in days
    assert date(2027, 1, 1) not in days
    assert days[-1] == date(2027, 1, 4)  # 14 days ahead, a Monday
    assert all(day.weekday() < 5 for day in days)


def test_free_slots_count_down_and_a_full_slot_disappears(sql: SqlBackend) -> None:
    health = sql.get_appointment_service("health")
    assert health is not None and health.places == 3
    for n in range(3):
        _book(sql, 450, f"k{n}")
    taken = sql.taken_places("health", NEXT_MONDAY, NEXT_MONDAY)
    assert taken == {NEXT_MONDAY: {450: 3}}
    slots = free_slots(health, NEXT_MONDAY, taken[NEXT_MONDAY])
    assert slots[0].minute == 470 and slots[0].free == 3


# --- booking --------------------------------------------------------------------------------


def test_the_last_place_goes_once_then_the_slot_is_full(any_sql: SqlBackend) -> None:
    codes = {_book(any_sql, 450, f"k{n}").code for n in range(3)}
    assert len(codes) == 3
    with pytest.raises(SlotFullError):
        _book(any_sql, 450, "k3")


def test_the_same_key_books_once(any_sql: SqlBackend) -> None:
    first = _book(any_sql, 450, "same")
    again = _book(any_sql, 450, "same")
    assert again == first
    assert any_sql.taken_places("health", NEXT_MONDAY, NEXT_MONDAY)[NEXT_MONDAY][450] == 1


def test_parallel_bookings_never_overbook_the_last_places(any_sql: SqlBackend) -> None:
    """Twelve phones press "confirm" at once on a slot with three places: three get one."""
    racers = 12
    barrier = threading.Barrier(racers)
    booked: list[str] = []
    full: list[int] = []
    errors: list[BaseException] = []

    def race(n: int) -> None:
        barrier.wait()
        try:
            booked.append(_book(any_sql, 450, f"race-{n}", phone=f"+2438100001{n:02d}").code)
        except SlotFullError:
            full.append(n)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(booked) == 3 and len(set(booked)) == 3
    assert len(full) == racers - 3
    with any_sql.engine.connect() as conn:
        held = conn.execute(
            sa.select(sa.func.count()).where(
                appointments.c.day == NEXT_MONDAY,
                appointments.c.minute == 450,
                appointments.c.seat.is_not(None),
            )
        ).scalar_one()
    assert held == 3


@pytest.mark.parametrize(
    ("day", "minute"),
    [
        (date(2026, 12, 25), 450),  # closed day (Christmas)
        (date(2026, 12, 6), 480),  # Sunday: no hours
        (NEXT_MONDAY, 455),  # not a slot start
        (NEXT_MONDAY, 750),  # after closing
        (TUESDAY, 600),  # today: booking opens tomorrow
        (date(2026, 12, 16), 450),  # beyond the 14-day horizon
    ],
)
def test_a_slot_not_offered_is_refused(sql: SqlBackend, day: date, minute: int) -> None:
    with pytest.raises(SlotNotOfferedError):
        _book(sql, minute, "k", day=day)


def test_an_unknown_service_is_refused(sql: SqlBackend) -> None:
    with pytest.raises(UnknownServiceError):
        sql.book_appointment(
            service_code="nope", day=NEXT_MONDAY, minute=450, phone=PHONE, idempotency_key="k"
        )


def test_cancelling_frees_the_place_and_cannot_happen_twice(any_sql: SqlBackend) -> None:
    codes = [_book(any_sql, 450, f"k{n}").code for n in range(3)]
    cancelled = any_sql.cancel_booking(codes[0])
    assert cancelled.status is BookingStatus.CANCELLED
    assert _book(any_sql, 450, "k-after").status is BookingStatus.BOOKED
    with pytest.raises(BookingClosedError):
        any_sql.cancel_booking(codes[0])


def test_moving_keeps_the_code_and_frees_the_old_place(any_sql: SqlBackend) -> None:
    booking = _book(any_sql, 450, "k")
    moved = any_sql.move_booking(booking.code, day=date(2026, 12, 8), minute=590)
    assert (moved.code, moved.day, moved.minute) == (booking.code, date(2026, 12, 8), 590)
    taken = any_sql.taken_places("health", NEXT_MONDAY, date(2026, 12, 8))
    assert taken == {date(2026, 12, 8): {590: 1}}


def test_moving_to_a_full_slot_leaves_the_booking_where_it_was(sql: SqlBackend) -> None:
    for n in range(3):
        _book(sql, 470, f"full{n}")
    booking = _book(sql, 450, "k")
    with pytest.raises(SlotFullError):
        sql.move_booking(booking.code, day=NEXT_MONDAY, minute=470)
    assert sql.get_booking(booking.code) == booking


def test_only_the_phone_that_booked_sees_the_booking(sql: SqlBackend) -> None:
    booking = _book(sql, 450, "k")
    assert visible_booking(sql, booking.code, PHONE) == booking
    assert visible_booking(sql, booking.code, OTHER) is None
    assert visible_booking(sql, "10000004", PHONE) is None


def test_the_agenda_lists_the_counter_s_day_and_attendance_is_recorded_once(
    sql: SqlBackend,
) -> None:
    first = sql.book_appointment(
        service_code="civil_status", day=NEXT_MONDAY, minute=480, phone=PHONE, idempotency_key="a"
    )
    sql.book_appointment(
        service_code="civil_status", day=NEXT_MONDAY, minute=480, phone=OTHER, idempotency_key="b"
    )
    third = sql.book_appointment(
        service_code="civil_status", day=NEXT_MONDAY, minute=480, phone=OTHER, idempotency_key="c"
    )
    assert [b.counter_id for b in sql.agenda("civil_status", NEXT_MONDAY)] == [
        "desk1",
        "desk1",
        "desk2",
    ]
    assert [b.code for b in sql.agenda("civil_status", NEXT_MONDAY, "desk2")] == [third.code]
    marked = sql.mark_booking(first.code, Attendance.NO_SHOW, agent_id="agent-7")
    assert (marked.status, marked.agent_id) == (BookingStatus.NO_SHOW, "agent-7")
    with pytest.raises(BookingClosedError):
        sql.mark_booking(first.code, Attendance.ATTENDED, agent_id="agent-7")
    assert sql.list_bookings(phone=PHONE) == []


def test_a_booking_made_today_is_listed_soonest_first(sql: SqlBackend, clock: Clock) -> None:
    later = _book(sql, 590, "later", day=date(2026, 12, 9))
    sooner = _book(sql, 450, "sooner")
    clock.now += timedelta(minutes=1)
    assert [b.code for b in sql.list_bookings(phone=PHONE)] == [sooner.code, later.code]
