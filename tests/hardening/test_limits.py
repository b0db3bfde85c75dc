"""Rate limits where they apply: USSD hops, inbound SMS and OTPs per phone, the APIs per IP."""

from __future__ import annotations

from typing import Any

import redis

from runtime import keys
from sessions.store import lock_key
from tests.conftest import UssdPhone
from tests.hardening.conftest import dead_redis_url

AGENT = {"Authorization": "Bearer demo-agent-key"}
PORTAL = {"Authorization": "Bearer demo-portal-key"}
PHONE, OTHER = "+243810000001", "+243810000002"


def test_ussd_hops_over_the_rate_end_politely(make_app: Any, redis_client: redis.Redis) -> None:
    phone = UssdPhone(make_app(rate_ussd_hops="3/3600").test_client())
    assert not phone.dial().end
    phone.type("9")
    phone.type("0")
    limited = phone.type("1")
    assert limited.status == 200 and limited.end
    assert limited.body.startswith("Trop de demandes depuis ce numéro")
    # The refused hop neither holds the session lock nor changes the session.
    assert not redis_client.exists(lock_key(phone.session_id))
    assert not UssdPhone(phone.client, phone=OTHER).dial().end


def test_the_rate_limited_end_speaks_the_phones_language(
    make_app: Any, redis_client: redis.Redis
) -> None:
    redis_client.set(keys.phone_language(PHONE), "sw")
    phone = UssdPhone(make_app(rate_ussd_hops="1/3600").test_client())
    phone.dial()
    assert phone.dial().body.startswith("Maombi mengi mno")


def test_api_requests_over_the_ip_rate_get_429(make_app: Any) -> None:
    client = make_app(rate_api_per_ip="3/60", trusted_proxies="10.0.0.0/8").test_client()
    statuses = [client.get("/api/v1/requests", headers=AGENT).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = client.get("/api/v1/requests", headers=AGENT)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["error"] == "rate_limited"
    # Unauthenticated guessing counts too: the limit comes before the key check.
    assert client.get("/api/v1/requests").status_code == 429
    other = {"REMOTE_ADDR": "10.0.0.7"}
    forwarded = {"X-Forwarded-For": "41.0.0.1", **AGENT}
    assert client.get("/api/v1/requests", headers=forwarded, environ_base=other).status_code == 200
    # Not the USSD route, not the callbacks: the API limit is for /api only.
    assert not UssdPhone(client).dial().end


def test_otp_sends_are_limited_per_phone_across_purposes(make_app: Any) -> None:
    client = make_app(rate_otp_sends="2/3600").test_client()

    def issue(phone: str, purpose: str) -> Any:
        return client.post("/api/v1/otp", json={"phone": phone, "purpose": purpose}, headers=PORTAL)

    assert issue(PHONE, "login").status_code == 202
    assert issue(PHONE, "pay").status_code == 202
    refused = issue(PHONE, "other")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert issue(OTHER, "login").status_code == 202


def test_inbound_sms_over_the_phone_rate_are_dropped(
    make_app: Any, redis_client: redis.Redis
) -> None:
    client = make_app(rate_sms_inbound="2/3600").test_client()

    def send(msg_id: str, sender: str = PHONE) -> Any:
        form = {"from": sender, "to": "12345", "text": "AIDE", "id": msg_id}
        return client.post("/sms/africastalking/inbound", data=form).get_json()

    assert send("m1")["status"] == "accepted"
    assert send("m1")["status"] == "duplicate"  # an AT retry
    assert send("m2")["status"] == "accepted"
    assert send("m3") == {"status": "ignored", "reason": "rate limited"}
    assert not redis_client.exists(keys.key("sms", "cbdata", "inbound", "m3"))
    assert send("m4", OTHER)["status"] == "accepted"


def test_without_redis_money_limits_fail_closed_and_comfort_limits_open(make_app: Any) -> None:
    client = make_app(redis_url=dead_redis_url(), otp_key="o" * 32).test_client()
    # The per-IP API limit protects comfort: agents keep working on the database.
    listed = client.get("/api/v1/requests", headers=AGENT)
    assert listed.status_code == 200
    assert isinstance(listed.get_json()["items"], list)  # answered from the database
    # OTPs cost SMS: no Redis, no code (503, so the portal retries later).
    otp = client.post("/api/v1/otp", json={"phone": PHONE, "purpose": "login"}, headers=PORTAL)
    assert otp.status_code == 503
    screen = UssdPhone(client).dial()
    assert screen.end and screen.status == 200
