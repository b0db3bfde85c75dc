"""OTP API: issue, verify once, 5 tries, expiry, identical answers, throttled resends."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from runtime import keys
from sms.preferences import Preferences
from sms.providers.console import read_outbox
from tests.sms.conftest import PHONE, Jobs

PORTAL = {"Authorization": "Bearer demo-portal-key"}


def _issue(client: FlaskClient, phone: str = PHONE, purpose: str = "login") -> Any:
    return client.post("/api/v1/otp", json={"phone": phone, "purpose": purpose}, headers=PORTAL)


def _verify(client: FlaskClient, code: str, purpose: str = "login") -> Any:
    return client.post(
        "/api/v1/otp/verify",
        json={"phone": PHONE, "purpose": purpose, "code": code},
        headers=PORTAL,
    )


def _code(jobs: Jobs, redis_client: redis.Redis) -> str:
    jobs.run()
    for entry in read_outbox(redis_client, phone=PHONE):  # newest first
        match = re.search(r"code (?:est|is) (\d{6})\b", entry.text)
        if match:
            return match.group(1)
    raise AssertionError("no code in the outbox")


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_code_verifies_once(client: FlaskClient, jobs: Jobs, redis_client: redis.Redis) -> None:
    response = _issue(client)
    assert response.status_code == 202
    assert response.get_json() == {"status": "sent", "expires_in": 300, "resend_after": 30}
    code = _code(jobs, redis_client)
    assert _verify(client, code).get_json() == {"valid": True}
    assert _verify(client, code).get_json() == {"valid": False}  # replay


def test_only_the_hmac_is_stored(
    client: FlaskClient, jobs: Jobs, redis_client: redis.Redis
) -> None:
    _issue(client)
    code = _code(jobs, redis_client)
    for key in redis_client.scan_iter(keys.key("otp", "*")):
        assert PHONE.encode() not in key
        if redis_client.type(key) == b"hash":
            assert code.encode() not in b"".join(redis_client.hvals(key))


def test_five_tries_then_locked_even_for_the_right_code(
    client: FlaskClient, jobs: Jobs, redis_client: redis.Redis
) -> None:
    _issue(client)
    code = _code(jobs, redis_client)
    for _ in range(5):
        assert _verify(client, _wrong(code)).get_json() == {"valid": False}
    assert _verify(client, code).get_json() == {"valid": False}


def test_the_fifth_try_may_still_be_right(
    client: FlaskClient, jobs: Jobs, redis_client: redis.Redis
) -> None:
    _issue(client)
    code = _code(jobs, redis_client)
    for _ in range(4):
        _verify(client, _wrong(code))
    assert _verify(client, code).get_json() == {"valid": True}


def test_an_expired_code_fails(client: FlaskClient, jobs: Jobs, redis_client: redis.Redis) -> None:
    _issue(client)
    code = _code(jobs, redis_client)
    for key in redis_client.scan_iter(keys.key("otp", "code", "*")):
        redis_client.expire(key, 0)  # the 5 minutes are over
    assert _verify(client, code).get_json() == {"valid": False}


def test_wrong_expired_locked_unknown_answer_alike(
    client: FlaskClient, jobs: Jobs, redis_client: redis.Redis
) -> None:
    answers = []
    answers.append(_verify(client, "123456"))  # never issued
    _issue(client)
    code = _code(jobs, redis_client)
    answers.append(_verify(client, _wrong(code)))  # wrong
    answers.append(_verify(client, code, purpose="payment"))  # other purpose
    for _ in range(5):
        _verify(client, _wrong(code))
    answers.append(_verify(client, code))  # locked
    bodies = {(r.status_code, r.get_data()) for r in answers}
    assert bodies == {(200, b'{"valid":false}\n')}


def test_resends_are_throttled_with_growing_delays(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    assert _issue(client).get_json()["resend_after"] == 30
    throttled = _issue(client)
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["Retry-After"]) <= 30
    answer = throttled.get_json()
    assert (answer["error"], answer["retry_after"]) == ("too_many_requests", 30)
    assert answer["message"]  # every error says why (docs/openapi/otp.yaml)
    [key] = redis_client.scan_iter(keys.key("otp", "resend", "*"))
    redis_client.hset(key, "next", 0)  # the wait is over
    assert _issue(client).get_json()["resend_after"] == 60
    redis_client.hset(key, "next", 0)
    assert _issue(client).get_json()["resend_after"] == 120


def test_a_new_code_voids_the_previous_one(
    client: FlaskClient, jobs: Jobs, redis_client: redis.Redis
) -> None:
    _issue(client)
    first = _code(jobs, redis_client)
    [key] = redis_client.scan_iter(keys.key("otp", "resend", "*"))
    redis_client.hset(key, "next", 0)
    _issue(client)
    second = _code(jobs, redis_client)
    if first != second:
        assert _verify(client, first).get_json() == {"valid": False}
    assert _verify(client, second).get_json() == {"valid": True}


def test_otp_sms_ignore_stop_and_the_budget(
    client: FlaskClient, jobs: Jobs, redis_client: redis.Redis
) -> None:
    client.post("/sms/africastalking/inbound", data={"from": PHONE, "text": "STOP", "id": "stop-1"})
    jobs.run()
    budget = keys.key("rl", "sms-budget", keys.tag(PHONE))
    assert not redis_client.exists(budget)  # the STOP reply is essential: not counted
    # The day's budget is spent, through the same limiter the SMS service uses.
    preferences = Preferences(redis_client)
    daily = client.application.config["SETTINGS"].sms_daily_budget
    assert sum(preferences.spend(PHONE, daily) for _ in range(daily)) == daily
    assert not preferences.spend(PHONE, daily)
    assert _issue(client).status_code == 202
    assert _code(jobs, redis_client)


def test_codes_never_reach_the_logs(
    client: FlaskClient, jobs: Jobs, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _issue(client)
    code = _code(jobs, redis_client)
    _verify(client, _wrong(code))
    _verify(client, code)
    assert code not in caplog.text
    assert PHONE not in caplog.text


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"phone": PHONE}, "phone and purpose"),
        ({"phone": "0810000001", "purpose": "login"}, "phone: E.164"),
        ({"phone": "+243810000001*", "purpose": "login"}, "phone: E.164"),  # phonenumbers took it
        ({"phone": "+243 81 000 0001", "purpose": "login"}, "phone: E.164"),
        ({"phone": PHONE, "purpose": "Bad Purpose!"}, "purpose:"),
        ({"phone": "+33612345678", "purpose": "login"}, "cannot receive"),  # not an allowed country
        ([1, 2], "JSON object"),
    ],
)
def test_bad_requests(client: FlaskClient, body: object, says: str) -> None:
    answer = client.post("/api/v1/otp", json=body, headers=PORTAL)
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_request"
    assert says in answer.get_json()["message"]


def test_the_api_needs_a_portal_key(client: FlaskClient) -> None:
    body = {"phone": PHONE, "purpose": "login"}
    assert client.post("/api/v1/otp", json=body).status_code == 401
    agent = {"Authorization": "Bearer demo-agent-key"}
    assert client.post("/api/v1/otp", json=body, headers=agent).status_code == 403
    assert client.post("/api/v1/otp/verify", json=body, headers=agent).status_code == 403
