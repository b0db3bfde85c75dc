"""Logs: JSON lines, people masked and correlated, and real traffic leaks no secret."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker

from civic.seed import seed_demo
from gateway.schema import migrate_payments as payments_migrate
from runtime import keys, logs
from sms.providers.console import read_outbox
from sms.queues import SMS_QUEUE
from tests.conftest import UssdPhone

PHONE = "+243810004321"
PORTAL = {"Authorization": "Bearer demo-portal-key"}
SMS_TOKEN = "sms-token-0123456789abcdef"
PAY_TOKEN = "pay-token-0123456789abcdef"


class _Raw(logging.Handler):
    """Keep every record as the code rendered it, before any scrubbing."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    seed_demo(app_config["database_url"])
    payments_migrate(app_config["database_url"])
    return {
        **app_config,
        "sms_callback_token": SMS_TOKEN,
        "payment_callback_token": PAY_TOKEN,
        "log_ref_key": "test-log-ref-key",
    }


@pytest.fixture
def captured(app: Flask) -> Iterator[tuple[_Raw, io.StringIO]]:
    """Capture raw records (first handler) and our JSON handler's output."""
    root = logging.getLogger()
    raw = _Raw()
    root.handlers.insert(0, raw)
    [ours] = [h for h in root.handlers if h.get_name() == "guichet-json"]
    assert isinstance(ours, logging.StreamHandler)
    out = io.StringIO()
    previous = ours.setStream(out)
    level = root.level
    root.setLevel(logging.DEBUG)
    yield raw, out
    root.setLevel(level)
    ours.setStream(previous)
    root.removeHandler(raw)


def _work(redis_client: redis.Redis) -> None:
    SimpleWorker(
        [Queue(keys.queue(SMS_QUEUE), connection=redis_client)], connection=redis_client
    ).work(burst=True)


def test_real_traffic_leaks_no_number_code_or_token(
    client: FlaskClient,
    redis_client: redis.Redis,
    captured: tuple[_Raw, io.StringIO],
) -> None:
    raw, out = captured
    phone = UssdPhone(client, phone=PHONE)
    # A USSD journey, including a malformed hop and a retried one.
    assert phone.dial().kind == "CON"
    phone.type("1", "1")  # into the tax journey
    phone.retry()
    phone.post({"sessionId": "x", "phoneNumber": "not a phone", "text": ""})
    # OTP: issue, read it from the outbox, a wrong try, then the right one.
    issued = client.post("/api/v1/otp", json={"phone": PHONE, "purpose": "login"}, headers=PORTAL)
    assert issued.status_code == 202
    _work(redis_client)
    [code] = [
        m.group(1)
        for e in read_outbox(redis_client, phone=PHONE)
        if (m := re.search(r"\b(\d{6})\b", e.text))
    ][:1]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for attempt in (wrong, code):
        client.post(
            "/api/v1/otp/verify",
            json={"phone": PHONE, "purpose": "login", "code": attempt},
            headers=PORTAL,
        )
    # Inbound SMS and a delivery report, with the callback token.
    form = {"from": PHONE, "to": "12345", "text": "AIDE", "id": "in-1", "date": "2025-01-31"}
    assert client.post(f"/sms/africastalking/inbound?token={SMS_TOKEN}", data=form).status_code
    client.post(
        f"/sms/africastalking/delivery?token={SMS_TOKEN}",
        data={"id": "ATXid_unknown", "status": "Failed", "phoneNumber": PHONE},
    )
    _work(redis_client)
    # A payment callback with its token (unmatched: it is stored and reviewed).
    body = {"intent": "nope", "status": "succeeded", "amount": 5000, "phone": PHONE}
    client.post(f"/payments/sandbox/callback?token={PAY_TOKEN}&intent=nope", json=body)
    # A wrong token is refused (and must not be echoed either).
    client.post("/sms/africastalking/inbound?token=wrong-token-value", data=form)
    # The end-of-session event.
    client.post(
        "/ussd/africastalking/events",
        data={"sessionId": phone.session_id, "phoneNumber": PHONE, "status": "Incomplete"},
    )

    emitted = out.getvalue()
    assert raw.lines, "the traffic above logs something"
    everything = "\n".join(raw.lines) + "\n" + emitted
    secrets = {
        PHONE,
        PHONE.lstrip("+"),
        PHONE[4:],
        code,
        wrong,
        SMS_TOKEN,
        PAY_TOKEN,
        "wrong-token-value",
        "demo-portal-key",
    }
    for secret in secrets:
        assert secret not in everything, f"{secret!r} reached the logs"
    for line in emitted.splitlines():
        entry = json.loads(line)
        assert {"ts", "level", "logger", "msg"} <= entry.keys()
    # Lines about the phone carry its masked form and a correlation ref, the same each time.
    refs = {json.loads(line).get("phone_ref") for line in emitted.splitlines()} - {None}
    assert refs == {logs.current_phone_ref(PHONE)}


def test_the_scrubber_is_a_last_line_of_defence(app: Flask) -> None:
    record = logging.LogRecord(
        "x",
        logging.WARNING,
        __file__,
        1,
        "careless %s at /sms/t/%s?token=%s&apiKey=%s Authorization: Bearer %s ref 12345674",
        ("+243 81 000 4321", "seg-secret", "tok-secret", "key-secret", "bearer-secret"),
        None,
    )
    logs.ScrubFilter().filter(record)
    line = logs.JsonFormatter().format(record)
    for secret in ("000 4321", "seg-secret", "tok-secret", "key-secret", "bearer-secret"):
        assert secret not in line
    assert "12345674" in line  # request references (8 digits) stay readable
    assert json.loads(line)["level"] == "WARNING"


def test_a_person_renders_masked_with_a_keyed_ref(app: Flask) -> None:
    who = logs.person(PHONE)
    assert str(who) == "+243 81•••••21"
    assert who.ref == logs.current_phone_ref(PHONE)
    assert len(who.ref) == 12
    other_key = logs.Person(PHONE).ref
    logs.configure("INFO", ref_key=b"another-key")
    try:
        assert logs.person(PHONE).ref != other_key
    finally:
        logs.configure("INFO", ref_key=b"test-log-ref-key")


def test_records_below_the_level_are_never_formatted(app: Flask) -> None:
    class Exploding:
        def __str__(self) -> str:
            raise AssertionError("formatted a record nobody emits")

    logging.getLogger("gateway.ussd").debug("hop %s", Exploding())
