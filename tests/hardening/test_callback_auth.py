"""Every aggregator and payment callback URL: token (path or query), allowlist, never logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator

from gateway.callback_auth import CHANNELS, CallbackGate, same_secret
from gateway.client_ip import ClientAddress
from gateway.config import Settings, networks
from runtime.masking import install_url_secret_filter, mask_url_secrets
from tests.hardening.conftest import (
    CHANNEL_TOKENS,
    TOKENS,
    build_path,
    callback_rules,
    channel_of,
)

USSD_FORM = {
    "sessionId": "ATUid_auth1",
    "serviceCode": "*384*12#",
    "phoneNumber": "+243810000001",
    "networkCode": "63902",
    "text": "",
}
SMS_FORM = {"from": "+243810000001", "to": "12345", "text": "AIDE", "id": "in-auth-1"}


def _post(client: FlaskClient, path: str, **extra: Any) -> Any:
    if path.startswith("/payments/"):
        return client.post(path, data=b'{"ping": 1}', content_type="application/json", **extra)
    form = USSD_FORM if path.startswith("/ussd/") else SMS_FORM
    if path.startswith("/sms/twilio/"):  # signed as Twilio signs (no PUBLIC_BASE_URL here)
        validator = RequestValidator(TOKENS["twilio_auth_token"])
        signature = validator.compute_signature(f"http://localhost{path}", SMS_FORM)
        extra.setdefault("headers", {})["X-Twilio-Signature"] = signature
    return client.post(path, data=form, **extra)


def test_every_callback_url_is_guarded(guarded: FlaskClient) -> None:
    app = guarded.application
    rules = callback_rules(app)
    assert {rule.rule for rule in rules} >= {
        "/ussd/africastalking",
        "/ussd/hubtel",
        "/ussd/nalo",
        "/ussd/arkesel",
        "/ussd/generic",
        "/sms/africastalking/inbound",
        "/sms/africastalking/delivery",
        "/payments/<provider>/callback",
    }
    for rule in rules:
        assert channel_of(app, rule) in CHANNELS, (
            f"{rule.rule} is not registered with callback_route"
        )


def test_missing_or_wrong_token_is_refused_and_nothing_is_stored(
    guarded: FlaskClient, redis_client: redis.Redis
) -> None:
    before = set(redis_client.keys())
    for rule in callback_rules(guarded.application):
        path = build_path(rule)
        for suffix in ("", "?token=", "?token=nope", "/t/nope", "/t/" + "x" * 300):
            response = _post(guarded, path + suffix)
            assert response.status_code == 403, path + suffix
            assert "Traceback" not in response.get_data(as_text=True)
    # No session, no stored callback, no queued job: the refusal comes before any work.
    assert set(redis_client.keys()) == before


def test_another_channels_token_is_refused(guarded: FlaskClient) -> None:
    response = _post(guarded, f"/ussd/africastalking/t/{TOKENS['sms_callback_token']}")
    assert response.status_code == 403
    assert response.get_data(as_text=True).startswith("END ")


@pytest.mark.parametrize("form", ["path", "query"])
def test_the_right_token_is_accepted_as_path_segment_or_query(
    guarded: FlaskClient, form: str
) -> None:
    for rule in callback_rules(guarded.application):
        channel = channel_of(guarded.application, rule)
        assert isinstance(channel, str)
        token = CHANNEL_TOKENS[channel]
        path = build_path(rule)
        url = f"{path}/t/{token}" if form == "path" else f"{path}?token={token}"
        response = _post(guarded, url)
        assert response.status_code != 403, url
        assert response.status_code < 500, url
    ussd = _post(guarded, f"/ussd/africastalking/t/{TOKENS['ussd_callback_token']}")
    assert ussd.get_data(as_text=True).startswith("CON ")


def test_development_without_tokens_accepts_callbacks(client: FlaskClient) -> None:
    assert _post(client, "/ussd/africastalking").get_data(as_text=True).startswith("CON ")
    inbound = _post(client, "/sms/africastalking/inbound")
    assert inbound.status_code == 200
    assert inbound.get_json() == {"status": "accepted"}


def test_tokens_never_reach_the_logs(
    guarded: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for rule in callback_rules(guarded.application):
        path = build_path(rule)
        for token in CHANNEL_TOKENS.values():
            _post(guarded, f"{path}/t/{token}")
            _post(guarded, f"{path}?token={token}")
    assert "callback refused" in caplog.text
    for token in CHANNEL_TOKENS.values():
        assert token not in caplog.text


def test_access_log_lines_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    install_url_secret_filter()
    caplog.set_level(logging.INFO)
    secret = TOKENS["sms_callback_token"]
    line = f"POST /sms/africastalking/inbound?token={secret}&x=1 HTTP/1.1"
    logging.getLogger("werkzeug").info('127.0.0.1 - - "%s" 200 -', line)
    atoms = {"h": "127.0.0.1", "r": f"POST /ussd/africastalking/t/{secret} HTTP/1.1", "s": "200"}
    logging.getLogger("gunicorn.access").info('%(h)s "%(r)s" %(s)s', atoms)
    granian = {"addr": "127.0.0.1", "path": f"/payments/sandbox/callback/t/{secret}"}
    logging.getLogger("granian.access").info('%(addr)s "POST %(path)s"', granian)
    assert secret not in caplog.text
    assert caplog.text.count("[redacted]") == 3
    assert mask_url_secrets("/payments/sandbox/callback/t/abc?intent=i1") == (
        "/payments/sandbox/callback/t/[redacted]?intent=i1"
    )


def test_allowlist_honours_only_trusted_proxies(make_app: Any) -> None:
    app = make_app(
        sms_callback_cidrs="196.201.214.0/24, 2c0f:fe38::/32",
        trusted_proxies="10.0.0.0/8",
    )
    client = app.test_client()
    url = "/sms/africastalking/inbound"

    def status(peer: str, forwarded: str | None = None, msg_id: str = "a") -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return int(
            client.post(
                url,
                data={**SMS_FORM, "id": f"allow-{msg_id}"},
                headers=headers,
                environ_base={"REMOTE_ADDR": peer},
            ).status_code
        )

    assert status("196.201.214.9", msg_id="1") == 200  # the aggregator, directly
    assert status("2c0f:fe38::5", msg_id="2") == 200
    assert status("127.0.0.1") == 403
    # Behind our proxy: the right-most address that is not ours is the client.
    assert status("10.1.1.1", "196.201.214.9", msg_id="3") == 200
    assert status("10.1.1.1", "8.8.8.8, 196.201.214.9, 10.2.2.2", msg_id="4") == 200
    assert status("10.1.1.1", "196.201.214.9, 8.8.8.8") == 403
    # Anyone else's header is not evidence: a forged X-Forwarded-For changes nothing.
    assert status("8.8.8.8", "196.201.214.9") == 403
    assert status("10.1.1.1", "not-an-ip") == 403


def test_client_address_resolution() -> None:
    clients = ClientAddress(networks("10.0.0.0/8,127.0.0.1"), "X-Real-IP")
    assert clients.of("10.0.0.2", {"X-Real-IP": "41.1.2.3"}) == "41.1.2.3"
    assert clients.of("10.0.0.2", {"X-Forwarded-For": "41.1.2.3"}) == "10.0.0.2"
    assert clients.of("41.9.9.9", {"X-Real-IP": "41.1.2.3"}) == "41.9.9.9"
    assert clients.of(None, {}) == ""
    assert ClientAddress((), "X-Forwarded-For").of("10.0.0.2", {"X-Forwarded-For": "1.1.1.1"}) == (
        "10.0.0.2"
    )


def test_secrets_compare_whatever_their_length() -> None:
    assert same_secret("abc", "abc")
    assert not same_secret("abc", "abcd")
    assert not same_secret("", "abc")
    assert not same_secret("\udcff", "abc")  # a lone surrogate from a mangled URL


def test_gate_refusal_reasons_never_carry_the_token() -> None:
    gate = CallbackGate.from_settings(Settings(**TOKENS))
    assert gate.refusal("sms", None, "1.2.3.4") == "missing token"
    assert gate.refusal("sms", "guess", "1.2.3.4") == "wrong token"
    assert gate.refusal("sms", TOKENS["sms_callback_token"], "1.2.3.4") is None
    assert gate.token("payments") == TOKENS["payment_callback_token"]


def test_development_says_once_which_channels_are_open(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    make_app(sms_callback_token=TOKENS["sms_callback_token"])
    notices = [r.getMessage() for r in caplog.records if "without a token" in r.getMessage()]
    assert len(notices) == 1
    assert "ussd, payments" in notices[0] and "USSD_CALLBACK_TOKEN" in notices[0]
    assert "SMS_CALLBACK_TOKEN" not in notices[0]
