"""Agents' API on appointments: services, a counter's agenda, attended / no-show."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

import runtime
from civic.ports import Backend
from civic.seed import seed_demo

AGENT = {"Authorization": "Bearer demo-agent-key"}
SPEC: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "docs" / "openapi" / "agents.yaml").read_text("utf-8")
)


def _schema(name: str) -> dict[str, Any]:
    return {**SPEC["components"]["schemas"][name], "components": SPEC["components"]}


@pytest.fixture
def city(app: Flask, app_config: dict[str, Any]) -> Backend:
    seed_demo(app_config["database_url"])
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    return backend


def _book_three(city: Backend) -> tuple[str, list[str]]:
    service = city.get_appointment_service("civil_status")
    assert service is not None
    day = service.bookable_days(datetime.now(UTC))[0]
    codes = [
        city.book_appointment(
            service_code="civil_status",
            day=day,
            minute=minute,
            phone=f"+24381000000{n}",
            idempotency_key=f"api{n}",
        ).code
        for n, minute in enumerate((540, 480, 480))
    ]
    return day.isoformat(), codes


def test_services_list_counters(city: Backend, client: FlaskClient) -> None:
    body = client.get("/api/v1/appointments/services", headers=AGENT).get_json()
    assert [s["code"] for s in body["items"]] == ["civil_status", "health"]
    assert [c["id"] for c in body["items"][0]["counters"]] == ["desk1", "desk2"]
    for item in body["items"]:
        jsonschema.validate(item, _schema("AppointmentService"))


def test_the_agenda_of_a_day_by_time_and_counter(city: Backend, client: FlaskClient) -> None:
    day, codes = _book_three(city)
    body = client.get(
        f"/api/v1/appointments/agenda?service=civil_status&day={day}", headers=AGENT
    ).get_json()
    assert [(b["time"], b["counter"]) for b in body["items"]] == [
        ("08:00", "desk1"),
        ("08:00", "desk1"),
        ("09:00", "desk1"),
    ]
    assert body["items"][2]["code"] == codes[0]
    assert body["items"][0]["phone"].startswith("+243 81") and "•" in body["items"][0]["phone"]
    for item in body["items"]:
        jsonschema.validate(item, _schema("Booking"))
    desk2 = client.get(
        f"/api/v1/appointments/agenda?service=civil_status&day={day}&counter=desk2", headers=AGENT
    ).get_json()
    assert desk2["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("service=nope", "service"),
        ("service=civil_status&day=2026-13-01", "day"),
        ("service=civil_status&counter=desk9", "counter"),
    ],
)
def test_a_bad_agenda_query_is_a_400(
    city: Backend, client: FlaskClient, query: str, field: str
) -> None:
    response = client.get(f"/api/v1/appointments/agenda?{query}", headers=AGENT)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_attendance_is_recorded_once(city: Backend, client: FlaskClient) -> None:
    _, codes = _book_three(city)
    url = f"/api/v1/appointments/{codes[0]}/attendance"
    marked = client.post(url, json={"attendance": "no_show"}, headers=AGENT)
    assert marked.status_code == 200
    assert (marked.get_json()["status"], marked.get_json()["agent_id"]) == ("no_show", "demo-agent")
    again = client.post(url, json={"attendance": "attended"}, headers=AGENT)
    assert again.status_code == 409 and again.get_json()["status"] == "no_show"


def test_attendance_refuses_bad_input_and_unknown_codes(city: Backend, client: FlaskClient) -> None:
    _, codes = _book_three(city)
    bad = client.post(
        f"/api/v1/appointments/{codes[0]}/attendance", json={"attendance": "late"}, headers=AGENT
    )
    assert bad.status_code == 400
    mistyped = client.post(
        "/api/v1/appointments/12345670/attendance", json={"attendance": "attended"}, headers=AGENT
    )
    assert mistyped.status_code == 400
    unknown = client.post(
        "/api/v1/appointments/10000004/attendance", json={"attendance": "attended"}, headers=AGENT
    )
    assert unknown.status_code == 404
    assert client.get("/api/v1/appointments/services").status_code == 401
