"""Book, move and cancel an appointment through /ussd/africastalking on the demo city."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue, SimpleWorker

import runtime
from civic.appointments import BookingStatus, NotSupportedError
from civic.http import HttpBackend
from civic.ports import Backend
from civic.seed import seed_demo
from gateway.app import create_app
from gateway.schema import MIGRATIONS, run_steps
from menus.lint import lint
from runtime import keys
from sms.providers.console import read_outbox
from tests.civic.conftest import PORTAL_TOKEN
from tests.conftest import UssdPhone

PHONE = "+243810000001"
OTHER = "+243810000077"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def city(app: Flask, app_config: dict[str, Any]) -> Backend:
    run_steps(MIGRATIONS, app_config["database_url"], io.StringIO())
    seed_demo(app_config["database_url"])
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    return backend


def _option(body: str, label: str) -> str:
    for line in body.splitlines():
        key, _, rest = line.partition(". ")
        if label in rest:
            return key
    raise AssertionError(f"no option {label!r} in:\n{body}")


def _sms(client: redis.Redis, phone: str = PHONE) -> list[str]:
    SimpleWorker([Queue(keys.queue("sms"), connection=client)], connection=client).work(burst=True)
    return [e.text for e in reversed(read_outbox(client, phone=phone, limit=50))]


def _to_slots(ussd: UssdPhone, service_label: str) -> tuple[str, str]:
    """Dial, open appointments, pick the service and its first day; return (day, slots body)."""
    ussd.dial()
    ussd.type("7", "1")
    services = ussd.last
    assert services is not None
    days = ussd.type(_option(services.body, service_label))
    first_day = days.body.splitlines()[1]  # "1. 01/12 (48)"
    return first_day.split(". ")[1].split(" ")[0], ussd.type("1").body


def test_book_then_move_then_cancel(
    city: Backend, ussd: UssdPhone, redis_client: redis.Redis
) -> None:
    day, slots = _to_slots(ussd, "Centre de santé")
    assert slots.startswith("Choisissez l'heure (places libres)\n1. 07:30 (3)")
    confirm = ussd.type("1")
    assert confirm.body.startswith(f"Centre de santé Himbi, le {day}/")
    done = ussd.type("1")
    assert done.end
    code = re.search(r"Rendez-vous (\d{8}):", done.body)
    assert code is not None, done.body
    booking = city.get_booking(code.group(1))
    assert booking is not None and booking.phone == PHONE and booking.minute == 450
    assert _sms(redis_client)[-1].startswith(
        f"Guichet: RDV {booking.code} confirmé, Centre de santé"
    )

    # Move it: My appointments -> the booking -> Move -> a day -> the second slot.
    ussd.dial()
    mine = ussd.type("7", "2")
    assert f"{booking.day:%d/%m} 07:30 Centre de santé" in mine.body
    manage = ussd.type("1")
    assert manage.body.startswith(f"RDV {booking.code}: Centre de santé Himbi")
    ussd.type("1", "1", "2")  # move, first day, second slot (07:50)
    moved = ussd.type("1")
    assert moved.end and moved.body.startswith(f"Rendez-vous {booking.code} déplacé")
    after = city.get_booking(booking.code)
    assert after is not None and after.minute == 470
    assert _sms(redis_client)[-1].startswith(f"Guichet: RDV {booking.code} déplacé")

    # Cancel it.
    ussd.dial()
    ussd.type("7", "2", "1", "2")
    cancelled = ussd.type("1")
    assert cancelled.end and cancelled.body.startswith(f"Rendez-vous {booking.code} annulé")
    final = city.get_booking(booking.code)
    assert final is not None and final.status is BookingStatus.CANCELLED
    assert "annulé" in _sms(redis_client)[-1]
    ussd.dial()
    assert ussd.type("7", "2").body.startswith("Vous n'avez aucun rendez-vous")


def test_the_last_place_taken_meanwhile_shows_full_not_a_double_booking(
    city: Backend, ussd: UssdPhone
) -> None:
    _to_slots(ussd, "Centre de santé")
    service = city.get_appointment_service("health")
    assert service is not None
    day = service.bookable_days(datetime.now(UTC))[0]
    for n in range(3):  # three other phones take the 07:30 places while this one hesitates
        city.book_appointment(
            service_code="health", day=day, minute=450, phone=OTHER, idempotency_key=f"o{n}"
        )
    ussd.type("1")
    full = ussd.type("1")
    assert not full.end and full.body.startswith("Ce créneau vient d'être pris.")
    assert len(city.agenda("health", day)) == 3
    # Back to the days: the slot list no longer offers 07:30.
    ussd.type("1")
    assert "07:30" not in ussd.type("1").body


def test_every_slot_of_the_days_is_paged_within_the_screen(city: Backend, ussd: UssdPhone) -> None:
    _, first_page = _to_slots(ussd, "État civil")
    assert "\n98. " in first_page  # 12 slots a day do not fit one screen
    second = ussd.type("98")
    assert "\n99. " in second.body and "09:00" in first_page + second.body
    assert max(len(first_page), len(second.body)) <= 182


def test_my_appointments_lists_only_this_phone_s(city: Backend, ussd: UssdPhone) -> None:
    service = city.get_appointment_service("civil_status")
    assert service is not None
    day: date = service.bookable_days(datetime.now(UTC))[0]
    city.book_appointment(
        service_code="civil_status", day=day, minute=480, phone=OTHER, idempotency_key="x"
    )
    ussd.dial()
    assert ussd.type("7", "2").body.startswith("Vous n'avez aucun rendez-vous")


def test_the_portal_adapter_says_not_supported() -> None:
    portal = HttpBackend("http://127.0.0.1:9")
    with pytest.raises(NotSupportedError):
        portal.list_appointment_services()
    assert portal.due_reminders(datetime.now(UTC)) == []


# --- menus lint over the catalogue ----------------------------------------------------------


def _copy(tmp_path: Path, catalogue: str, menus: str | None = None) -> Path:
    (tmp_path / "catalogue.yaml").write_text(catalogue, encoding="utf-8")
    target = tmp_path / "menus.yaml"
    target.write_text(menus or (REPO / "menus.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return target


def _catalogue() -> str:
    return (REPO / "cities" / "goma" / "catalogue.yaml").read_text(encoding="utf-8")


def test_the_shipped_catalogue_lints_clean() -> None:
    assert lint(REPO / "menus.yaml").ok


def test_lint_reports_a_slot_length_that_does_not_divide_the_hours(tmp_path: Path) -> None:
    broken = _catalogue().replace("slot_minutes: 20", "slot_minutes: 25")
    report = lint(_copy(tmp_path, broken))
    assert any(
        "catalogue.yaml:appointments.health.hours.sat: slot length 25 min does not divide "
        "08:00-11:00" in line
        for line in report.lines()
    ), report.lines()


def test_lint_reports_a_text_missing_in_a_language(tmp_path: Path) -> None:
    broken = _catalogue().replace(', sw: "Kituo cha afya Himbi"}', "}")
    report = lint(_copy(tmp_path, broken))
    assert any("appointments.health.names: no text in sw" in line for line in report.lines())


def test_lint_reports_a_screen_naming_an_unknown_service(tmp_path: Path) -> None:
    menus = (REPO / "menus.yaml").read_text(encoding="utf-8")
    menus = menus.replace(
        "    action: appointments.start\n",
        "    action: appointments.start\n    args: {service: dentist}\n",
    )
    report = lint(_copy(tmp_path, _catalogue(), menus))
    assert report.lines() == [
        f"{tmp_path / 'menus.yaml'}:screens.appt_start.args.service: unknown service 'dentist'"
    ]


def test_lint_reports_a_document_naming_an_unknown_appointment_service(tmp_path: Path) -> None:
    catalogue = _catalogue()
    assert (
        catalogue.count("appointment_service: civil_status") == 3
    )  # electoral, wedding, correction
    broken = catalogue.replace(
        "appointment_service: civil_status", "appointment_service: dentist", 1
    )
    report = lint(_copy(tmp_path, broken))
    assert report.lines() == [
        f"{tmp_path / 'menus.yaml'}:catalogue.yaml:documents.electoral.appointment_service: "
        "unknown service 'dentist'"
    ]


def test_on_the_city_portal_backend_the_screens_say_unavailable(
    app_config: dict[str, Any], portal: Any
) -> None:
    application = create_app(
        {
            **app_config,
            "civic_backend": "http",
            "civic_portal_url": portal.url,
            "civic_portal_token": PORTAL_TOKEN,
        }
    )
    try:
        phone = UssdPhone(application.test_client())
        phone.dial()
        screen = phone.type("7", "1")
        assert screen.end and screen.body.startswith("Service momentanément indisponible")
    finally:
        runtime.uninstall()
