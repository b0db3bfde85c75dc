"""The message log holds no secret: after an OTP is sent and verified, no Redis key and no
log line holds the code, and the log keeps the phone masked once the message has left."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import redis
from flask import Flask

import runtime
from fakes.africastalking import FakeAfricasTalking
from gateway.cli import main as gateway_main
from sms.service import SmsService
from sms.store import MessageStore, Status
from tests.sms.conftest import PHONE, Jobs


def main(argv: list[str]) -> int:
    """Run `python -m gateway sms <argv>` in this process."""
    return gateway_main(["sms", *argv])


PORTAL = {"Authorization": "Bearer demo-portal-key"}


@pytest.fixture
def app_config(at_config: dict[str, Any]) -> dict[str, Any]:
    """Send through the real SDK to the fake AT API: the code leaves us, as in production."""
    return at_config


def every_value(client: redis.Redis) -> dict[str, bytes]:
    """Return every key of the database with everything it holds, as bytes."""
    found: dict[str, bytes] = {}
    for raw_key in client.scan_iter(count=1000):
        key = raw_key.decode()
        kind = client.type(raw_key).decode()
        if kind == "string":
            value: Any = client.get(raw_key)
        elif kind == "hash":
            value = client.hgetall(raw_key)
        elif kind == "list":
            value = client.lrange(raw_key, 0, -1)
        elif kind == "set":
            value = client.smembers(raw_key)
        elif kind == "zset":
            value = client.zrange(raw_key, 0, -1, withscores=True)
        elif kind == "stream":
            value = client.xrange(raw_key)
        else:
            raise AssertionError(f"{key}: unexpected type {kind}")
        found[key] = key.encode() + b" " + repr(value).encode()
    return found


def test_no_redis_key_and_no_log_line_holds_the_otp(
    app: Flask,
    jobs: Jobs,
    fake_at: FakeAfricasTalking,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    issued = client.post("/api/v1/otp", json={"phone": PHONE, "purpose": "login"}, headers=PORTAL)
    assert issued.status_code == 202
    jobs.run()
    [received] = fake_at.sent_to(PHONE)  # the phone got it: the outside world's copy
    match = re.search(r"code est (\d{6})\b", received.form["message"])
    assert match is not None
    code = match.group(1)
    verified = client.post(
        "/api/v1/otp/verify",
        json={"phone": PHONE, "purpose": "login", "code": code},
        headers=PORTAL,
    )
    assert verified.get_json() == {"valid": True}

    values = every_value(redis_client)
    assert any(key.startswith(MessageStore.key("")) for key in values)  # the log was read too
    assert [key for key, value in values.items() if code.encode() in value] == []
    assert [key for key, value in values.items() if PHONE.encode() in value] == []
    assert code not in caplog.text and PHONE not in caplog.text

    [record] = [
        runtime.current().get(MessageStore).get(k.removeprefix(MessageStore.key("")))
        for k in values
        if k.startswith(MessageStore.key(""))
    ]
    assert record is not None and record.status is Status.SENT
    assert (record.template, record.phone_masked, record.phone, record.text) == (
        "otp", "+243 81•••••01", "", ""
    )  # fmt: skip
    assert record.params == {"code": "••••••", "minutes": "5"}
    assert record.phone_ref  # messages of one number can still be found together


def test_a_message_keeps_number_and_text_only_while_it_may_be_sent(
    app: Flask, jobs: Jobs, fake_at: FakeAfricasTalking, redis_client: redis.Redis
) -> None:
    store = runtime.current().get(MessageStore)
    sms = runtime.current().get(SmsService)
    params = {"ref": "12345674", "document": "Acte", "short_code": "*384*12#"}
    queued = sms.send(PHONE, "request_created", params, idempotency_key="k1")
    pending = store.get(queued.message_id)
    assert pending is not None and pending.phone == PHONE and "12345674" in pending.text
    jobs.run()
    done = store.get(queued.message_id)
    assert done is not None and done.status is Status.SENT
    assert (done.phone, done.text) == ("", "")
    assert done.params["ref"] == "12345674"  # what was said stays readable
    refused = sms.send("+254711000001", "request_created", params, idempotency_key="k2")
    assert refused.status is Status.REFUSED
    raw = redis_client.hgetall(MessageStore.key(refused.message_id))
    assert (
        b"phone" not in raw
        and b"text" not in raw
        and raw[b"phone_masked"] == "+254 71•••••01".encode()
    )


def test_scrub_log_cleans_records_left_by_older_versions(
    app: Flask, redis_url: str, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = MessageStore.key("old")  # as an older version left it: number and OTP text, sent
    redis_client.hset(
        old,
        mapping={"id": "old", "phone": PHONE, "template": "otp", "lang": "fr", "status": "sent",
                 "text": "Guichet: votre code est 187280.", "created_at": 1.0},
    )  # fmt: skip
    pending = (
        runtime.current().get(SmsService).send(PHONE, "reply_unavailable", {}, idempotency_key="p")
    )  # still queued: the deliver job needs its number and text
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["scrub-log"]) == 0
    raw = redis_client.hgetall(old)
    assert b"187280" not in b"".join(raw.values()) and PHONE.encode() not in b"".join(raw.values())
    assert raw[b"phone_masked"] == "+243 81•••••01".encode() and raw[b"status"] == b"sent"
    kept = runtime.current().get(MessageStore).get(pending.message_id)
    assert kept is not None and kept.phone == PHONE and kept.text
