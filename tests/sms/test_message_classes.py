"""Essential messages and notices: STOP and the daily budget stop notices only, and every
refused message is visible (a /metrics counter, `python -m gateway sms outbox --refused`)."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

import runtime
from gateway.cli import main as gateway_main
from sms.preferences import Preferences
from sms.providers.console import read_outbox
from sms.service import SmsService
from sms.store import Status
from sms.templates import TemplateBook
from tests.sms.conftest import PHONE, Jobs


def main(argv: list[str]) -> int:
    """Run `python -m gateway sms <argv>` in this process."""
    return gateway_main(["sms", *argv])


PORTAL = {"Authorization": "Bearer demo-portal-key"}
NOTICE = "notice_tax_deadline"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """A budget of one SMS a day per phone."""
    return {**app_config, "sms_daily_budget": 1}


def _worst_params(book: TemplateBook, key: str) -> dict[str, str | int]:
    return dict.fromkeys(book.templates[key].params, "1")


def test_stop_and_a_spent_budget_refuse_every_notice_and_no_essential_message(
    app: Flask,
) -> None:
    sms = runtime.current().get(SmsService)
    prefs = runtime.current().get(Preferences)
    assert prefs.spend(PHONE, 1)  # the day's only notice is spent
    prefs.set_opted_out(PHONE, True)
    results = {
        key: sms.send(PHONE, key, _worst_params(sms.book, key), idempotency_key=f"k-{key}")
        for key in sms.book.templates
    }
    refused = {key for key, result in results.items() if result.status is Status.REFUSED}
    notices = {key for key, t in sms.book.templates.items() if not t.essential}
    assert notices and refused == notices
    assert {results[key].reason for key in notices} == {"opted_out"}
    prefs.set_opted_out(PHONE, False)
    again = sms.send(PHONE, NOTICE, _worst_params(sms.book, NOTICE), idempotency_key="again")
    assert (again.status, again.reason) == (Status.REFUSED, "budget_exceeded")


def test_after_stop_otps_and_replies_still_reach_the_phone(
    client: FlaskClient, jobs: Jobs, redis_client: redis.Redis
) -> None:
    inbound = "/sms/africastalking/inbound"
    client.post(inbound, data={"from": PHONE, "text": "STOP", "id": "s1"})
    client.post(inbound, data={"from": PHONE, "text": "AIDE", "id": "s2"})
    otp = client.post("/api/v1/otp", json={"phone": PHONE, "purpose": "login"}, headers=PORTAL)
    assert otp.status_code == 202
    jobs.run()
    sms = runtime.current().get(SmsService)
    notice = sms.send(PHONE, NOTICE, _worst_params(sms.book, NOTICE), idempotency_key="n")
    assert notice.reason == "opted_out"
    texts = [e.text for e in read_outbox(redis_client, phone=PHONE)]
    assert any(t.startswith("Guichet: vous ne recevrez plus") for t in texts)  # STOP's reply
    assert any(t.startswith("Guichet: STATUT <réf>") for t in texts)  # AIDE's reply
    assert any("votre code est" in t for t in texts)  # the OTP


def test_refused_notices_are_counted_in_metrics_and_listed_by_the_cli(
    app: Flask,
    client: FlaskClient,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sms = runtime.current().get(SmsService)
    params = _worst_params(sms.book, "notice_tax_deadline")
    for i in range(3):  # budget 1: the 2nd and 3rd are refused
        sms.send(PHONE, "notice_tax_deadline", params, idempotency_key=f"b{i}")
    runtime.current().get(Preferences).set_opted_out("+243990000002", True)
    sms.send("+243990000002", "notice_tax_deadline", params, idempotency_key="stopped")
    page = client.get("/metrics").get_data(as_text=True)
    assert (
        'guichet_sms_refused_total{template="notice_tax_deadline",reason="budget_exceeded"} 2'
        in page
    )
    assert 'guichet_sms_refused_total{template="notice_tax_deadline",reason="opted_out"} 1' in page
    monkeypatch.setenv("REDIS_URL", redis_url)
    capsys.readouterr()
    assert main(["outbox", "--refused"]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 3
    assert "+243 99•••••02  notice_tax_deadline (notice)  opted_out" in lines[0]  # newest first
    assert all("budget_exceeded" in line for line in lines[1:])
    assert main(["outbox", "--refused", "--json"]) == 0
    out = capsys.readouterr().out
    assert PHONE not in out and "+243990000002" not in out
    assert '"reason": "budget_exceeded"' in out
