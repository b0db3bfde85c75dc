"""Appointments by SMS: ANNULER/DEPLACER and their synonyms, confirmations, reminders on a clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

import runtime
from civic.appointments import AppointmentService, Booking, BookingStatus, check_catalogue
from civic.ports import Backend
from civic.seed import seed_demo
from civic.sql import SqlBackend, make_engine
from sms.appointment_alerts import announce, send_due_reminders
from sms.keywords import Keyword, parse
from sms.preferences import Preferences
from sms.providers.console import read_outbox
from sms.templates import load_strict
from tests.sms.conftest import OTHER, PHONE, Jobs
from tests.sms.test_inbound import Phone

NEXT_MONDAY = date(2026, 12, 7)
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# The default pack's words (cities/goma/sms_templates.yaml `keywords:`).
GOMA = load_strict("cities/goma/sms_templates.yaml").keywords


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """Tuesday 1 December 2026, 09:00 UTC."""
    return Clock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def office(app: Flask, app_config: dict[str, Any], clock: Clock) -> Iterator[SqlBackend]:
    """Yield the app's seeded database seen through a back office on the test's clock."""
    seed_demo(app_config["database_url"])
    backend = SqlBackend(make_engine(app_config["database_url"]), clock=clock)
    yield backend
    backend.dispose()


@pytest.fixture
def phone(app: Flask, client: FlaskClient, jobs: Jobs, redis_client: redis.Redis) -> Phone:
    return Phone(client, jobs, redis_client)


def _book(office: SqlBackend, key: str, *, phone: str = PHONE, day: date = NEXT_MONDAY) -> Booking:
    return office.book_appointment(
        service_code="civil_status", day=day, minute=540, phone=phone, idempotency_key=key
    )


class Outbox:
    """Deliver what was queued (a real burst worker), then read the phone's SMS."""

    def __init__(self, jobs: Jobs, client: redis.Redis) -> None:
        self._jobs = jobs
        self._client = client

    def texts(self, number: str = PHONE) -> list[str]:
        """Return the texts delivered to `number`, oldest first."""
        self._jobs.run()
        return [e.text for e in reversed(read_outbox(self._client, phone=number, limit=100))]


@pytest.fixture
def outbox(jobs: Jobs, redis_client: redis.Redis) -> Outbox:
    return Outbox(jobs, redis_client)


@pytest.mark.parametrize(
    ("text", "lang"),
    [("ANNULER 1234 5678", "fr"), ("cancel 12345678", "en"), ("Ghairi: 1234-5678", "sw")],
)
def test_cancel_keywords_parse_in_every_language(text: str, lang: str) -> None:
    assert parse(text, GOMA).keyword is Keyword.CANCEL
    assert (parse(text, GOMA).argument, parse(text, GOMA).lang_hint) == ("12345678", lang)


def test_cancel_by_sms_frees_the_place_and_says_so(phone: Phone, office: SqlBackend) -> None:
    booking = _book(office, "a")
    phone.text(f"ANNULER {booking.code}")
    assert phone.last() == (
        f"Guichet: RDV {booking.code} du 07/12/2026 à 09:00 annulé. La place est libérée."
    )
    assert office.get_booking(booking.code).status is BookingStatus.CANCELLED  # type: ignore[union-attr]
    phone.text(f"GHAIRI {booking.code}")
    assert phone.last() == f"Guichet: miadi {booking.code} imeshaghairiwa au imepita."


def test_cancel_by_another_phone_looks_unknown_and_keeps_the_booking(
    phone: Phone, office: SqlBackend
) -> None:
    booking = _book(office, "a", phone=OTHER)
    phone.text(f"CANCEL {booking.code}")
    assert phone.last().startswith(f"Guichet: no appointment {booking.code} for this number")
    assert office.get_booking(booking.code).status is BookingStatus.BOOKED  # type: ignore[union-attr]
    phone.text("ANNULER")
    assert phone.last().startswith("Guichet: envoyez ANNULER <code du RDV>, ou DEPLACER")


@pytest.mark.parametrize(
    ("text", "argument"),
    [
        ("DEPLACER 1234 5678 08/12 10h00", "12345678 08/12 10:00"),
        ("move 12345678 8/12/2026 9:30", "12345678 8/12/2026 09:30"),
        ("Hamisha: 1234-5678 08/12 10:00", "12345678 08/12 10:00"),
        ("DEPLACER 12345678", ""),
        ("MOVE 12345678 tomorrow 10:00", ""),
    ],
)
def test_move_keywords_parse_code_day_and_time(text: str, argument: str) -> None:
    assert (parse(text, GOMA).keyword, parse(text, GOMA).argument) == (Keyword.MOVE, argument)


@pytest.fixture
def clocked(office: SqlBackend) -> None:
    """Let the SMS path see the back office on the test's clock (the booking horizon moves)."""
    runtime.current().register(Backend, office)  # type: ignore[type-abstract]


def test_move_by_sms_moves_the_booking_and_says_so(
    phone: Phone, office: SqlBackend, clocked: None
) -> None:
    booking = _book(office, "a")
    phone.text(f"DEPLACER {booking.code} 08/12 10h00")
    assert phone.last() == (
        f"Guichet: RDV {booking.code} déplacé, État civil (pièces), le 08/12/2026 à 10:00, "
        f"Mairie de Goma, Bd Kanyamuhanga. Pour annuler: ANNULER {booking.code}"
    )
    moved = office.get_booking(booking.code)
    assert moved is not None
    assert (moved.day, moved.minute, moved.status) == (date(2026, 12, 8), 600, BookingStatus.BOOKED)


def test_move_by_another_phone_looks_unknown_and_keeps_the_booking(
    phone: Phone, office: SqlBackend, clocked: None
) -> None:
    booking = _book(office, "a", phone=OTHER)
    phone.text(f"MOVE {booking.code} 08/12 10:00")
    assert phone.last().startswith(f"Guichet: no appointment {booking.code} for this number")
    kept = office.get_booking(booking.code)
    assert kept is not None
    assert (kept.day, kept.minute) == (NEXT_MONDAY, 540)


def test_move_to_a_full_slot_or_a_closed_day_keeps_the_booking(
    phone: Phone, office: SqlBackend, clocked: None
) -> None:
    booking = _book(office, "a")
    for key in "bcde":  # two desks, two places each
        _book(office, key, phone=OTHER, day=date(2026, 12, 8))
    phone.text(f"DEPLACER {booking.code} 08/12 09:00")
    assert phone.last().startswith(
        f"Guichet: pas de place libre le 08/12/2026 à 09:00. RDV {booking.code} inchangé."
    )
    phone.text(f"HAMISHA {booking.code} 06/12 09:00")  # a Sunday: the counter is closed
    assert phone.last().startswith("Guichet: hakuna nafasi wazi tarehe 06/12/2026 saa 09:00.")
    kept = office.get_booking(booking.code)
    assert kept is not None
    assert (kept.day, kept.minute) == (NEXT_MONDAY, 540)


@pytest.mark.parametrize(
    "text",
    [
        "DEPLACER",
        "DEPLACER {code} demain",
        "DEPLACER {code} 31/02 09:00",
        "DEPLACER {code} 08/12 25:00",
    ],
)
def test_a_malformed_move_answers_how_to_write_it(
    phone: Phone, office: SqlBackend, clocked: None, text: str
) -> None:
    booking = _book(office, "a")
    phone.text(text.format(code=booking.code))
    assert phone.last().startswith("Guichet: pour déplacer un RDV, envoyez DEPLACER <code>")
    assert office.get_booking(booking.code).day == NEXT_MONDAY  # type: ignore[union-attr]


def test_the_confirmation_is_essential_and_goes_even_after_stop(
    app: Flask, office: SqlBackend, outbox: Outbox
) -> None:
    services = runtime.current()
    services.get(Preferences).set_opted_out(PHONE, True)
    booking = _book(office, "a")
    announce(services, booking, "booked")
    announce(services, booking, "booked")  # a re-run job
    texts = outbox.texts()
    assert len(texts) == 1
    assert texts[0].startswith(
        f"Guichet: RDV {booking.code} confirmé, État civil (pièces), le 07/12/2026 à 09:00"
    )


# --- reminders ------------------------------------------------------------------------------


def test_the_reminder_goes_the_evening_before_once(
    app: Flask, office: SqlBackend, outbox: Outbox
) -> None:
    booking = _book(office, "a")
    services = runtime.current()
    # Goma is UTC+2: the window is Sunday 6 December 18:00-20:30 local, 16:00-18:30 UTC.
    opens = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert send_due_reminders(services, opens - timedelta(seconds=1)) == 0
    assert send_due_reminders(services, opens) == 1
    assert send_due_reminders(services, opens + timedelta(minutes=5)) == 0  # the next sweep
    texts = outbox.texts()
    assert texts == [
        f"Guichet: rappel, RDV {booking.code} demain 07/12/2026 à 09:00, État civil (pièces), "
        f"Mairie de Goma, Bd Kanyamuhanga. Empeché? ANNULER {booking.code}"
    ]


def test_a_sweep_after_the_window_sends_nothing_in_quiet_hours(
    app: Flask, office: SqlBackend, outbox: Outbox
) -> None:
    _book(office, "a")
    closes = datetime(2026, 12, 6, 18, 30, tzinfo=UTC)  # 20:30 in Goma
    assert send_due_reminders(runtime.current(), closes) == 0
    assert send_due_reminders(runtime.current(), closes + timedelta(hours=4)) == 0
    assert outbox.texts() == []


def test_the_reminder_is_a_notice_so_stop_applies(
    app: Flask, office: SqlBackend, outbox: Outbox
) -> None:
    _book(office, "a")
    services = runtime.current()
    services.get(Preferences).set_opted_out(PHONE, True)
    send_due_reminders(services, datetime(2026, 12, 6, 16, 0, tzinfo=UTC))
    assert outbox.texts() == []


def test_cancelled_after_the_reminder_no_second_reminder_and_the_place_is_free(
    phone: Phone, office: SqlBackend
) -> None:
    booking = _book(office, "a")
    services = runtime.current()
    assert send_due_reminders(services, datetime(2026, 12, 6, 16, 0, tzinfo=UTC)) == 1
    phone.text(f"ANNULER {booking.code}")
    assert "annulé" in phone.last()
    assert send_due_reminders(services, datetime(2026, 12, 6, 17, 0, tzinfo=UTC)) == 0
    assert len(phone.replies()) == 2  # the reminder, then the cancel's answer
    assert office.taken_places("civil_status", NEXT_MONDAY, NEXT_MONDAY) == {}


def test_a_moved_booking_is_reminded_of_its_new_slot(
    app: Flask, office: SqlBackend, outbox: Outbox
) -> None:
    booking = _book(office, "a")
    services = runtime.current()
    assert send_due_reminders(services, datetime(2026, 12, 6, 16, 0, tzinfo=UTC)) == 1
    office.move_booking(booking.code, day=date(2026, 12, 8), minute=600)
    assert send_due_reminders(services, datetime(2026, 12, 6, 17, 0, tzinfo=UTC)) == 0
    assert send_due_reminders(services, datetime(2026, 12, 7, 16, 0, tzinfo=UTC)) == 1
    assert "demain 08/12/2026 à 10:00" in outbox.texts()[-1]


def test_booked_after_the_window_opened_gets_no_reminder(
    app: Flask, office: SqlBackend, clock: Clock, outbox: Outbox
) -> None:
    clock.now = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)  # Sunday 19:00 in Goma
    _book(office, "late")
    assert send_due_reminders(runtime.current(), clock.now) == 0


# --- time zones -----------------------------------------------------------------------------


def _city_service(timezone: str, **reminder: str) -> AppointmentService:
    services, problems = check_catalogue(
        {
            "timezone": timezone,
            "services": [
                {
                    "code": "desk",
                    "names": {"fr": "Guichet", "en": "Desk", "sw": "Dirisha"},
                    "place": {"fr": "Ici", "en": "Here", "sw": "Hapa"},
                    "counters": [{"id": "c1", "names": {"fr": "G1", "en": "D1", "sw": "D1"}}],
                    "hours": dict.fromkeys(
                        ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "08:00-10:00"
                    ),
                    "slot_minutes": 60,
                    "capacity": 1,
                    "horizon_days": 30,
                    **({"reminder": reminder} if reminder else {}),
                }
            ],
        }
    )
    assert problems == []
    return services[0]


@pytest.mark.parametrize(
    ("day", "opens_utc"),
    [
        (date(2027, 3, 28), datetime(2027, 3, 27, 17, 0, tzinfo=UTC)),  # the eve is still CET
        (date(2027, 3, 29), datetime(2027, 3, 28, 16, 0, tzinfo=UTC)),  # the eve is CEST
        (date(2027, 10, 31), datetime(2027, 10, 30, 16, 0, tzinfo=UTC)),  # eve CEST
        (date(2027, 11, 1), datetime(2027, 10, 31, 17, 0, tzinfo=UTC)),  # eve back to CET
    ],
)
def test_a_daylight_saving_city_is_reminded_at_18_local(day: date, opens_utc: datetime) -> None:
    brussels = _city_service("Europe/Brussels")
    assert brussels.reminder_window(day)[0] == opens_utc
    assert brussels.starts_at(day, 8 * 60).astimezone(brussels.zone).hour == 8


def test_a_reminder_window_around_midnight_falls_on_the_local_eve() -> None:
    """In Kiritimati (UTC+14) the local eve's 23:00-23:59 is the UTC morning of that eve."""
    late = _city_service("Pacific/Kiritimati", **{"from": "23:00", "until": "23:59"})
    opens, closes = late.reminder_window(date(2027, 1, 5))
    assert (opens, closes) == (
        datetime(2027, 1, 4, 9, 0, tzinfo=UTC),
        datetime(2027, 1, 4, 9, 59, tzinfo=UTC),
    )
    # Tomorrow is the local tomorrow: at 10:30 UTC on the 4th it is already the 5th there.
    assert late.local_today(datetime(2027, 1, 4, 10, 30, tzinfo=UTC)) == date(2027, 1, 5)


def test_reminders_in_a_daylight_saving_city_through_the_sweep(
    app: Flask, office: SqlBackend, clock: Clock, outbox: Outbox
) -> None:
    office.appointments.save_appointment_services([_city_service("Europe/Brussels")])
    clock.now = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
    booking = office.book_appointment(
        service_code="desk", day=date(2027, 3, 29), minute=480, phone=PHONE, idempotency_key="dst"
    )
    services = runtime.current()
    opens = datetime(2027, 3, 28, 16, 0, tzinfo=UTC)  # 18:00 CEST, the day the clocks moved
    assert send_due_reminders(services, opens - timedelta(minutes=1)) == 0
    assert send_due_reminders(services, opens) == 1
    assert f"RDV {booking.code} demain 29/03/2027 à 08:00" in outbox.texts()[-1]
