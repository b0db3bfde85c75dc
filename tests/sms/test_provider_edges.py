"""What each new SMS provider does at its edges: Twilio's signature, Orange's token and
subscription, account-level refusals that pause sending, bodies that are not the provider's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import logging
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import pytest
import redis
from flask import Flask

import runtime
from fakes.infobip import FakeInfobip
from fakes.orange_sms import FakeOrangeSms
from fakes.scripted import Behaviour
from fakes.twilio import FakeTwilio
from gateway.app import create_app
from gateway.cli.sms import orange_subscribe
from gateway.config import ConfigError, Settings
from sms.delivery import Dispatcher, hold_key
from sms.service import SendResult, SmsService
from sms.store import MessageStore, Status
from tests.sms.conftest import PHONE, Jobs, message

PARAMS = {"ref": "12345674", "document": "Acte de naissance", "short_code": "*384*12#"}
TOKEN = "sms-token-0123456789abcdef"


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def orange() -> Iterator[FakeOrangeSms]:
    fake = FakeOrangeSms().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def infobip() -> Iterator[FakeInfobip]:
    fake = FakeInfobip().start()
    yield fake
    fake.stop()


def _twilio_app(config: dict[str, Any], fake: FakeTwilio, **more: Any) -> Flask:
    fake.reset()
    settings = {
        "sms_provider": "twilio",
        "twilio_account_sid": fake.account_sid,
        "twilio_auth_token": fake.auth_token,
        "twilio_from": "+15005550006",
        "twilio_api_base_url": fake.url,
        "sms_callback_token": TOKEN,
    }
    return create_app({**config, **settings, **more})


def _send(key: str = "k") -> SendResult:
    return (
        runtime.current()
        .get(SmsService)
        .send(PHONE, "request_created", PARAMS, idempotency_key=key)
    )


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (lambda form, headers: (form, {}), "no signature"),
        (lambda form, headers: ({**form, "Body": "STOP"}, headers), "body changed after signing"),
        (lambda form, headers: (form, {"X-Twilio-Signature": "AAAA"}), "wrong signature"),
    ],
)
def test_twilio_callbacks_without_a_valid_signature_are_refused(
    app_config: dict[str, Any], twilio: FakeTwilio, jobs: Jobs, mangle: Any, why: str
) -> None:
    app = _twilio_app(app_config, twilio)
    client = app.test_client()
    # No PUBLIC_BASE_URL: the signature covers the URL we were called on.
    path = f"/sms/twilio/inbound/t/{TOKEN}"
    form, headers = twilio.inbound(f"http://localhost{path}", PHONE, "AIDE")
    assert client.post(path, data=form, headers=headers).status_code == 200  # as signed
    form, headers = mangle(*twilio.inbound(f"http://localhost{path}", PHONE, "AIDE"))
    refused = client.post(path, data=form, headers=headers)
    assert (refused.status_code, refused.get_json()["error"]) == (403, "forbidden"), why
    assert len(jobs.queue.get_job_ids()) == 1  # only the signed one was stored
    runtime.uninstall()


def test_twilio_signs_the_public_url_and_the_token_gate_still_comes_first(
    app_config: dict[str, Any], twilio: FakeTwilio, jobs: Jobs, store: MessageStore
) -> None:
    app = _twilio_app(app_config, twilio, public_base_url="https://guichet.example/")
    client = app.test_client()
    result = _send()
    jobs.run()
    sid = message(store, result.message_id).provider_id
    url, form, headers = twilio.status_callback(sid, "delivered", to=PHONE)
    assert url == f"https://guichet.example/sms/twilio/delivery/t/{TOKEN}"
    # Signed, but without the URL's token: the callback gate refuses before anything else.
    assert client.post("/sms/twilio/delivery", data=form, headers=headers).status_code == 403
    # Signed for a URL that is not ours (another host): refused.
    foreign = twilio.sign(url.replace("guichet.example", "evil.example"), form)
    path = url.removeprefix("https://guichet.example")
    assert client.post(path, data=form, headers=foreign).status_code == 403
    assert client.post(path, data=form, headers=headers).status_code == 200
    jobs.run()
    assert message(store, result.message_id).status == Status.DELIVERED
    runtime.uninstall()


def test_twilio_callbacks_are_refused_when_no_auth_token_is_set(
    app_config: dict[str, Any], twilio: FakeTwilio
) -> None:
    client = create_app(app_config).test_client()  # console provider, no TWILIO_AUTH_TOKEN
    form, headers = twilio.inbound("http://localhost/sms/twilio/inbound", PHONE, "AIDE")
    assert client.post("/sms/twilio/inbound", data=form, headers=headers).status_code == 403
    runtime.uninstall()


def test_a_wrong_twilio_auth_token_pauses_sending(
    app_config: dict[str, Any], twilio: FakeTwilio, redis_client: redis.Redis
) -> None:
    _twilio_app(app_config, twilio, twilio_auth_token="not-the-token")
    jobs = Jobs(redis_client)
    result = _send()
    jobs.run()
    held = message(runtime.current().get(MessageStore), result.message_id)
    assert (held.status, held.attempts) == (Status.QUEUED, 0)
    assert redis_client.get(hold_key()) is not None
    runtime.uninstall()


def _orange_config(config: dict[str, Any], fake: FakeOrangeSms) -> dict[str, Any]:
    return {
        **config,
        "sms_provider": "orange",
        "orange_sms_client_id": fake.client_id,
        "orange_sms_client_secret": fake.client_secret,
        "orange_sms_sender": "+243800000000",
        "orange_sms_base_url": fake.url,
        "public_base_url": "https://guichet.example",
        "sms_callback_token": TOKEN,
    }


def test_orange_keeps_its_token_and_fetches_a_new_one_on_a_401(
    app_config: dict[str, Any], orange: FakeOrangeSms, redis_client: redis.Redis
) -> None:
    orange.reset()
    before = orange.token_requests
    create_app(_orange_config(app_config, orange))
    jobs = Jobs(redis_client)
    store = runtime.current().get(MessageStore)
    first, second = _send("a"), _send("b")
    jobs.run()
    assert orange.token_requests - before == 1  # one token for both messages
    orange.expire_tokens()
    third = _send("c")
    jobs.run()
    assert orange.token_requests - before == 2
    for sent in (first, second, third):
        assert message(store, sent.message_id).status == Status.SENT
    [request] = orange.received[:1]
    assert request.body["outboundSMSMessageRequest"]["senderAddress"] == "tel:+243800000000"
    runtime.uninstall()


def test_orange_refusing_our_credentials_pauses_sending(
    app_config: dict[str, Any], orange: FakeOrangeSms, redis_client: redis.Redis
) -> None:
    orange.reset()
    create_app({**_orange_config(app_config, orange), "orange_sms_client_secret": "wrong"})
    jobs = Jobs(redis_client)
    result = _send()
    jobs.run()
    assert message(runtime.current().get(MessageStore), result.message_id).status == Status.QUEUED
    assert redis_client.get(hold_key()) is not None
    assert orange.received == []
    runtime.uninstall()


def test_orange_subscribe_names_our_delivery_url(
    app_config: dict[str, Any], orange: FakeOrangeSms
) -> None:
    orange.reset()
    settings = Settings.from_env({}, _orange_config(app_config, orange))
    out = io.StringIO()
    with redirect_stdout(out):
        assert orange_subscribe(settings) == 0
    subscription = orange.subscriptions[-1]["deliveryReceiptSubscription"]
    url = subscription["callbackReference"]["notifyURL"]
    assert url == f"https://guichet.example/sms/orange/delivery/t/{TOKEN}"
    assert out.getvalue().startswith("subscribed: http://127.0.0.1:")
    assert TOKEN not in out.getvalue()
    wrong = Settings.from_env({}, {**app_config, "sms_provider": "console"})
    assert orange_subscribe(wrong) == 2
    unreachable = Settings.from_env(
        {}, {**_orange_config(app_config, orange), "public_base_url": ""}
    )
    assert orange_subscribe(unreachable) == 2


@pytest.mark.parametrize(
    ("overrides", "behaviour"),
    [
        ({"infobip_api_key": "wrong"}, None),
        ({}, Behaviour(per_number={PHONE: "REJECTED_NOT_ENOUGH_CREDITS"})),
    ],
)
def test_infobip_account_refusals_pause_sending(
    app_config: dict[str, Any],
    infobip: FakeInfobip,
    redis_client: redis.Redis,
    overrides: dict[str, str],
    behaviour: Behaviour | None,
) -> None:
    infobip.reset()
    if behaviour is not None:
        infobip.script(behaviour)
    settings = {
        "sms_provider": "infobip",
        "infobip_base_url": infobip.url,
        "infobip_api_key": infobip.api_key,
        "infobip_from": "Guichet",
    }
    create_app({**app_config, **settings, **overrides})
    jobs = Jobs(redis_client)
    result = _send()
    jobs.run()
    assert message(runtime.current().get(MessageStore), result.message_id).status == Status.QUEUED
    assert redis_client.get(hold_key()) is not None
    runtime.uninstall()


@pytest.mark.parametrize("provider", ["orange", "infobip"])
def test_json_callbacks_refuse_what_is_not_a_json_object_and_ignore_unusable_fields(
    client: Any, jobs: Jobs, provider: str
) -> None:
    for kind in ("inbound", "delivery"):
        path = f"/sms/{provider}/{kind}"
        for body in (b"not json", b"[1, 2]", b'"text"'):
            answer = client.post(path, data=body, content_type="application/json")
            assert answer.status_code == 400, (path, body)
            assert answer.get_json()["error"] == "bad_body"
        unusable = client.post(path, json={"results": [{"messageId": "", "from": "x"}]})
        assert (unusable.status_code, unusable.get_json()["status"]) == (200, "ignored")
    assert jobs.queue.get_job_ids() == []


def test_one_infobip_post_carries_several_reports(client: Any, jobs: Jobs) -> None:
    body = {"results": FakeInfobip.report("m-1", PHONE, "DELIVERED_TO_HANDSET")["results"]}
    body["results"] += FakeInfobip.report("m-2", PHONE, "EXPIRED_EXPIRED")["results"]
    body["results"].append({"messageId": "", "status": {"groupName": "DELIVERED"}})
    answer = client.post("/sms/infobip/delivery", json=body).get_json()
    assert answer["status"] == "accepted"
    assert answer["counts"] == {"accepted": 2, "ignored": 1}
    assert len(jobs.queue.get_job_ids()) == 2


@pytest.mark.parametrize(
    ("provider", "missing"),
    [
        ("twilio", ["TWILIO_ACCOUNT_SID is missing", "TWILIO_AUTH_TOKEN is missing"]),
        ("orange", ["ORANGE_SMS_CLIENT_SECRET is missing", "ORANGE_SMS_SENDER is missing"]),
        ("infobip", ["INFOBIP_BASE_URL is missing", "INFOBIP_API_KEY is missing"]),
    ],
)
def test_production_names_each_providers_missing_settings(
    provider: str, missing: list[str]
) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({}, {"env": "production", "sms_provider": provider})
    for line in missing:
        assert line in str(refused.value)


def test_production_refuses_a_provider_url_on_this_machine() -> None:
    settings = Settings.from_env(
        {}, {"sms_provider": "infobip", "infobip_base_url": "http://127.0.0.1:8095"}
    )
    assert "INFOBIP_BASE_URL points at 127.0.0.1" in " ".join(settings.production_problems())
    orange_pay = Settings.from_env({}, {"sms_provider": "orange"})
    # ORANGE_SMS_* is the SMS provider's; ORANGE_BASE_URL stays the payment adapter's.
    assert orange_pay.in_use("ORANGE_SMS_BASE_URL") and not orange_pay.in_use("INFOBIP_API_KEY")


def test_a_report_is_read_by_the_provider_whose_url_it_came_to(
    app_config: dict[str, Any], twilio: FakeTwilio, jobs: Jobs, store: MessageStore
) -> None:
    # A city moved from AT to Twilio: AT's late reports still mean what AT means.
    app = _twilio_app(app_config, twilio)
    client = app.test_client()
    result = _send()
    jobs.run()
    provider_id = message(store, result.message_id).provider_id
    form = {"id": provider_id, "status": "delivered", "retryCount": "0"}
    assert client.post(f"/sms/africastalking/delivery/t/{TOKEN}", data=form).status_code == 200
    jobs.run()
    assert message(store, result.message_id).status == Status.SENT  # not an AT status
    form["status"] = "Success"
    assert client.post(f"/sms/africastalking/delivery/t/{TOKEN}", data=form).status_code == 200
    jobs.run()
    assert message(store, result.message_id).status == Status.DELIVERED
    runtime.uninstall()


@pytest.mark.parametrize(
    ("provider", "status", "final"),
    [
        ("infobip", "EXPIRED", Status.UNDELIVERED),
        ("orange", "DeliveredToTerminal", Status.DELIVERED),
        ("africastalking", "Failed", Status.UNDELIVERED),
    ],
)
def test_a_report_that_beats_our_write_keeps_its_provider_until_applied(
    app: Flask, store: MessageStore, provider: str, status: str, final: Status
) -> None:
    dispatcher = runtime.current().get(Dispatcher)
    assert dispatcher.apply_report("early-1", status, "why", provider) == "pending"
    result = _send()
    store.transition(result.message_id, [Status.QUEUED], Status.SENT, provider_id="early-1")
    store.link_provider_id("early-1", result.message_id)
    dispatcher._apply_pending("early-1")
    assert message(store, result.message_id).status == final


def test_the_fake_signs_as_twilio_documents_and_sends_log_one_line(
    app_config: dict[str, Any],
    twilio: FakeTwilio,
    jobs: Jobs,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # base64(HMAC-SHA1(auth token, URL + each POST key and value, keys sorted)): Twilio's rule.
    url = "https://guichet.example/sms/twilio/inbound"
    form = {"From": PHONE, "Body": "AIDE", "MessageSid": "SM1"}
    data = url + "".join(key + form[key] for key in sorted(form))
    digest = hmac.new(twilio.auth_token.encode(), data.encode(), hashlib.sha1).digest()
    assert twilio.sign(url, form) == {"X-Twilio-Signature": base64.b64encode(digest).decode()}
    _twilio_app(app_config, twilio)
    caplog.set_level(logging.DEBUG)
    _send()
    jobs.run()
    lines = [r for r in caplog.records if r.name.startswith(("sms.providers", "twilio"))]
    assert lines == []  # the package's per-request INFO lines are silenced
    assert PHONE not in caplog.text  # masked everywhere ("+243 81•••••01")
    runtime.uninstall()
