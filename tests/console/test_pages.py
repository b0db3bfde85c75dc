"""Agents' pages: the queue's filters, the dossier, decisions with the API's rules, attendance."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

import runtime
from civic.ports import Backend, RequestStatus
from civic.sql import make_engine
from gateway.app import create_app
from gateway.console.texts import Texts
from gateway.console.web import console
from gateway.services import services_of
from sms.tables import messages
from tests.console.conftest import AGENT, Staff

SUBMITTED = "10000012"  # birth, townhall, submitted, fee paid
AWAITING_PAYMENT = "10000103"  # birth, townhall, fee due
APPROVED_FEE_DUE = "10000048"  # marriage, townhall, approved, fee due
DELIVERED = "10000061"  # death, townhall, delivered (final)
PROSECUTOR = "10000020"
TEMPLATES = Path(__file__).resolve().parents[2] / "gateway" / "console" / "templates"


def _refs(html: str) -> set[str]:
    return set(re.findall(r'href="/console/requests/(\d+)"', html))


def _backend(app: Flask) -> Backend:
    return services_of(app).get(Backend)  # type: ignore[type-abstract]


def test_the_queue_filters_by_status_document_fee_and_office(
    agent: Staff, supervisor: Staff
) -> None:
    everything = _refs(agent.get("/console/requests").get_data(as_text=True))
    assert {SUBMITTED, AWAITING_PAYMENT, DELIVERED} <= everything and PROSECUTOR not in everything
    assert _refs(agent.get("/console/requests?status=submitted").get_data(as_text=True)) == {
        SUBMITTED
    }
    births = _refs(agent.get("/console/requests?document=birth").get_data(as_text=True))
    assert SUBMITTED in births and DELIVERED not in births
    unpaid = _refs(agent.get("/console/requests?unpaid=1").get_data(as_text=True))
    assert unpaid == {AWAITING_PAYMENT, APPROVED_FEE_DUE}
    # Everything in the demo city was filed today: nothing is older than a day.
    assert _refs(agent.get("/console/requests?age=1").get_data(as_text=True)) == set()
    prosecutor = _refs(supervisor.get("/console/requests?office=prosecutor").get_data(as_text=True))
    assert prosecutor == {PROSECUTOR}
    # Unknown filter values are ignored, never a 500.
    assert agent.get("/console/requests?status=nope&age=x&page=-1").status_code == 200


def test_the_dossier_shows_what_was_typed_the_fee_and_the_history(agent: Staff) -> None:
    html = agent.get(f"/console/requests/{APPROVED_FEE_DUE}").get_data(as_text=True)
    assert "Frais et paiement" in html and "dus" in html
    assert "+243 81" in html and "•" in html  # the phone, masked
    assert 'name="decision" value="ready"' not in html  # the fee is due: ready is not offered
    assert "seed" in html  # the history says who decided (seed-demo's agent)


def test_a_decision_is_recorded_with_its_agent_audited_and_announced_by_sms(
    agent: Staff, console_app: Flask
) -> None:
    agent.get(f"/console/requests/{SUBMITTED}")
    answer = agent.post(f"/console/requests/{SUBMITTED}/decision", decision="in_review")
    assert answer.status_code == 302
    page = agent.get(answer.location).get_data(as_text=True)
    assert "Décision enregistrée : mettre en examen. SMS au citoyen : queued." in page
    found = _backend(console_app).get_request(SUBMITTED)
    assert found is not None and found.status == RequestStatus.IN_REVIEW
    assert found.history[-1].agent_id == AGENT
    (entry,) = [
        e for e in console(console_app).audit.recent(actor=AGENT) if e.action != "request.view"
    ][:1]
    assert (entry.action, entry.target, entry.detail, entry.client_ip) == (
        "request.decide", SUBMITTED, "decision=in_review", "127.0.0.1")  # fmt: skip
    engine = make_engine(console_app.config["SETTINGS"].database_url)
    try:
        with engine.connect() as conn:
            templates = conn.execute(sa.select(messages.c.template)).scalars().all()
    finally:
        engine.dispose()
    assert "request_in_review" in templates


@pytest.mark.parametrize(
    ("ref", "decision", "says"),
    [
        (DELIVERED, "approve", "la demande est maintenant « remise »"),
        (APPROVED_FEE_DUE, "ready", "Les frais sont dus"),
    ],
)
def test_the_api_s_409s_are_the_console_s(
    agent: Staff, console_app: Flask, ref: str, decision: str, says: str
) -> None:
    before = _backend(console_app).get_request(ref)
    agent.get(f"/console/requests/{ref}")
    answer = agent.post(f"/console/requests/{ref}/decision", decision=decision, office="townhall")
    assert answer.status_code == 409
    assert says in answer.get_data(as_text=True)
    assert _backend(console_app).get_request(ref) == before
    api = console_app.test_client().post(
        f"/api/v1/requests/{ref}/decision",
        json={"decision": decision, "office": "townhall"},
        headers={"Authorization": "Bearer demo-agent-key"},
    )
    assert api.status_code == 409


def test_a_reject_without_its_reason_code_is_refused_like_the_api_does(agent: Staff) -> None:
    agent.get(f"/console/requests/{SUBMITTED}")
    answer = agent.post(f"/console/requests/{SUBMITTED}/decision", decision="reject")
    assert answer.status_code == 400
    assert "reason_code" in answer.get_data(as_text=True)


def test_attendance_is_marked_once_and_audited(agent: Staff, console_app: Flask) -> None:
    backend = _backend(console_app)
    service = backend.get_appointment_service("civil_status")
    assert service is not None
    day = service.bookable_days(datetime.now(UTC))[0]
    booking = backend.book_appointment(
        service_code="civil_status", day=day, minute=480, phone="+243810000001",
        idempotency_key="console-test")  # fmt: skip
    agenda = agent.get(f"/console/appointments?day={day.isoformat()}").get_data(as_text=True)
    assert booking.code in agenda and "08:00" in agenda and "+243810000001" not in agenda
    path = f"/console/appointments/{booking.code}/attendance"
    answer = agent.post(path, attendance="attended")
    assert answer.status_code == 302
    assert "venu" in agent.get(answer.location).get_data(as_text=True)
    again = agent.post(path, attendance="no_show")
    assert again.status_code == 409
    actions = [e.action for e in console(console_app).audit.recent(target=booking.code)]
    assert actions == ["appointment.refused", "appointment.attendance"]


def test_every_text_the_templates_name_exists_in_every_language() -> None:
    texts = Texts.load()
    assert texts.languages == ("fr", "en")
    named = set()
    for template in TEMPLATES.rglob("*.html"):
        named |= set(re.findall(r'\bt\("([a-z_]+)"[,)]', template.read_text(encoding="utf-8")))
    assert named and named <= texts.keys()


def test_the_english_console(agent: Staff) -> None:
    agent.get("/console/requests")
    agent.post("/console/language", lang="en", next="/console/requests")
    assert "Requests" in agent.get("/console/requests").get_data(as_text=True)


def test_an_office_restricted_api_key_sees_only_its_offices(console_config: dict[str, Any]) -> None:
    app = create_app({**console_config, "api_key_offices": "demo-agent:prosecutor"})
    try:
        client = app.test_client()
        key = {"Authorization": "Bearer demo-agent-key"}
        listed = client.get("/api/v1/requests?per_page=100", headers=key).get_json()
        assert [item["reference"] for item in listed["items"]] == [PROSECUTOR]
        assert client.get(f"/api/v1/requests/{PROSECUTOR}", headers=key).status_code == 200
        assert client.get(f"/api/v1/requests/{SUBMITTED}", headers=key).status_code == 403
        refused = client.post(
            f"/api/v1/requests/{SUBMITTED}/decision", json={"decision": "in_review"}, headers=key
        )
        assert refused.status_code == 403
        found = _backend(app).get_request(SUBMITTED)
        assert found is not None and found.status == RequestStatus.SUBMITTED
    finally:
        runtime.uninstall()


def test_metrics_need_the_token_or_an_allowed_address(console_config: dict[str, Any]) -> None:
    token = "metrics-token-0123456789"
    for settings, headers, expected in (
        ({"metrics_token": token}, {}, 401),
        ({"metrics_token": token}, {"Authorization": "Bearer wrong-token"}, 401),
        ({"metrics_token": token}, {"Authorization": f"Bearer {token}"}, 200),
        ({"metrics_cidrs": "10.0.0.0/8"}, {}, 403),
        ({"metrics_cidrs": "127.0.0.0/8"}, {}, 200),
    ):
        app = create_app({**console_config, **settings})
        try:
            answer = app.test_client().get("/metrics", headers=headers)
            assert answer.status_code == expected, (settings, headers)
        finally:
            runtime.uninstall()
