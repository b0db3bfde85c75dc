"""Airtel Money against fakes/airtel.py: what the contract suite does not show (request shape,
token life, duplicate ids, timeouts, the callback hash, the fake's own checks)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fakes.airtel import FakeAirtel, Outcomes, callback_hash
from payments.config import PaymentConfigError
from payments.model import IntentStatus
from payments.providers.airtel import AirtelConfig, AirtelProvider
from payments.providers.base import PaymentState, PushOutcome
from payments.wiring import airtel_provider
from runtime import keys
from tests.live_server import LiveServer
from tests.payments.conftest import CALLBACK_TOKEN, Payments

MSISDN = "990000002"
PHONE = f"+243{MSISDN}"
SECRET = "airtel-hash-secret-for-tests"


@pytest.fixture
def fake_airtel(live: LiveServer) -> Iterator[FakeAirtel]:
    """Yield the fake Airtel API, its callback URL pointing at our served app."""
    fake = FakeAirtel(
        callback_url=f"{live.url}/payments/airtel/callback/t/{CALLBACK_TOKEN}",
        callback_secret=SECRET,
    ).start()
    yield fake
    fake.stop()


@pytest.fixture
def app_config(app_config: dict[str, Any], fake_airtel: FakeAirtel) -> dict[str, Any]:
    """Return settings with airtel:airtel beside the others."""
    state = fake_airtel.state
    return {
        **app_config,
        "payment_operators": "mpesa:daraja,airtel:airtel",
        "airtel_base_url": fake_airtel.url,
        "airtel_client_id": state.client_id,
        "airtel_client_secret": state.client_secret,
        "airtel_callback_secret": SECRET,
        "airtel_timeout_seconds": 1.0,
    }


def provider(payments: Payments) -> AirtelProvider:
    found = payments.service.providers["airtel"]
    assert isinstance(found, AirtelProvider)
    return found


def test_the_push_is_shaped_as_airtel_documents(
    payments: Payments, fake_airtel: FakeAirtel
) -> None:
    result = payments.start(25000, operator="airtel", phone=PHONE)
    assert result.intent is not None
    payments.work()
    payment = fake_airtel.payment(result.intent.id)
    assert payment.request["subscriber"] == {"country": "CD", "currency": "CDF", "msisdn": MSISDN}
    assert payment.request["transaction"] == {
        "amount": 25000,
        "country": "CD",
        "currency": "CDF",
        "id": result.intent.id,
    }
    assert result.intent.assessment_reference in payment.request["reference"]
    intent = payments.intent(result.intent.id)
    assert (intent.status, intent.provider_reference) == (IntentStatus.PUSHED, intent.id)
    assert fake_airtel.complete() == [200]
    payments.work()
    intent = payments.intent(intent.id)
    assert intent.status is IntentStatus.SUCCEEDED
    assert intent.provider_receipt == payment.airtel_money_id
    assert fake_airtel.state.enquiries == [intent.id]  # the callback was confirmed
    assert fake_airtel.state.token_requests == 1  # cached between push and enquiry


def test_the_token_is_renewed_before_expires_in_which_arrives_as_a_string(
    payments: Payments, fake_airtel: FakeAirtel
) -> None:
    clock = [0.0]
    fake_airtel.state.clock = lambda: clock[0]
    adapter = AirtelProvider(provider(payments)._config, clock=lambda: clock[0])
    result = payments.start(25000, operator="airtel", phone=PHONE)
    assert result.intent is not None
    payments.redis.delete(f"rq:queue:{keys.queue('payments')}")
    intent = payments.intent(result.intent.id)
    assert adapter.query(intent).state is PaymentState.NOT_FOUND
    clock[0] = 149.0  # expires_in "180", renewed 30 s early
    adapter.query(intent)
    assert fake_airtel.state.token_requests == 1
    clock[0] = 151.0
    adapter.query(intent)
    assert fake_airtel.state.token_requests == 2


def test_a_revoked_token_means_not_sent_and_the_retry_prompts_once(
    payments: Payments, fake_airtel: FakeAirtel
) -> None:
    adapter = provider(payments)
    result = payments.start(25000, operator="airtel", phone=PHONE)
    assert result.intent is not None
    intent = payments.intent(result.intent.id)
    adapter.query(intent)  # a token is cached
    fake_airtel.expire_tokens()
    assert adapter.push(intent).outcome is PushOutcome.NOT_SENT  # 401: Airtel did nothing
    assert fake_airtel.prompts() == 0
    assert adapter.push(intent).outcome is PushOutcome.ACCEPTED  # a fresh token
    assert fake_airtel.prompts() == 1


def test_a_reused_transaction_id_is_accepted_without_a_second_prompt(
    payments: Payments, fake_airtel: FakeAirtel
) -> None:
    result = payments.start(25000, operator="airtel", phone=PHONE)
    assert result.intent is not None
    payments.work()
    intent = payments.intent(result.intent.id)
    again = provider(payments).push(intent)  # e.g. re-pushed after a crash, same id
    assert (again.outcome, again.provider_reference, again.detail) == (
        PushOutcome.ACCEPTED,
        intent.id,
        "duplicate",
    )
    assert (fake_airtel.state.duplicates, fake_airtel.prompts()) == (1, 1)


def test_a_push_that_timed_out_is_found_by_the_enquiry_never_sent_again(
    payments: Payments, fake_airtel: FakeAirtel
) -> None:
    fake_airtel.state.hang_next_push = 2.5  # past our 1 s timeout, after Airtel took it
    result = payments.start(25000, operator="airtel", phone=PHONE)
    assert result.intent is not None
    payments.work()
    intent = payments.intent(result.intent.id)
    assert intent.status is IntentStatus.PUSHING
    payments.service.push(intent.id)  # a retry of the job
    assert payments.service.reconcile(now=payments.later(120)).counts == {"waiting": 1}  # TIP
    assert fake_airtel.prompts() == 1
    fake_airtel.complete()
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.SUCCEEDED
    assert fake_airtel.prompts() == 1


def test_an_airtel_outage_leaves_the_payment_open(
    payments: Payments, fake_airtel: FakeAirtel
) -> None:
    result = payments.start(25000, operator="airtel", phone=PHONE)
    assert result.intent is not None
    payments.work()
    fake_airtel.complete()
    fake_airtel.state.down = True  # the enquiry answers 503 while the callback is processed
    payments.work()
    assert payments.intent(result.intent.id).status is IntentStatus.PUSHED
    ttl = payments.service.config.intent_ttl_seconds
    assert payments.service.reconcile(now=payments.later(ttl + 1)).counts == {"unresolved": 1}
    fake_airtel.state.down = False
    assert payments.service.reconcile(now=payments.later(ttl + 3600)).counts == {"succeeded": 1}


@pytest.mark.parametrize("hash_value", ["d3Jvbmc=", None], ids=["wrong-hash", "no-hash"])
def test_a_callback_without_the_right_hash_is_reviewed(
    payments: Payments, fake_airtel: FakeAirtel, hash_value: str | None
) -> None:
    fake_airtel.script(MSISDN, Outcomes.INSUFFICIENT_FUNDS)
    result = payments.start(25000, operator="airtel", phone=PHONE)
    assert result.intent is not None
    payments.work()
    body = fake_airtel.callback_body(result.intent.id)
    body["transaction"]["status_code"] = "TF"
    body.pop("hash")
    if hash_value:
        body["hash"] = hash_value
    response = requests.post(fake_airtel.state.callback_url, json=body, timeout=5)
    assert response.status_code == 200
    assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}  # stored, not retried
    payments.work()
    [review] = payments.store.reviews.list_reviews()
    assert review.reason == "bad_signature"
    assert payments.intent(result.intent.id).status is IntentStatus.PUSHED


def test_the_hash_covers_the_transaction_object() -> None:
    transaction = {"id": "x1", "message": "m", "status_code": "TS", "airtel_money_id": "MP1"}
    compact = json.dumps(transaction, separators=(",", ":"))
    assert callback_hash("k", transaction) == callback_hash("k", json.loads(compact))
    assert callback_hash("k", transaction) != callback_hash("other", transaction)


def test_the_fake_refuses_what_airtel_refuses(fake_airtel: FakeAirtel) -> None:
    state = fake_airtel.state
    token = requests.post(
        f"{fake_airtel.url}/auth/oauth2/token",
        json={
            "client_id": state.client_id,
            "client_secret": state.client_secret,
            "grant_type": "client_credentials",
        },
        timeout=5,
    ).json()
    assert token["expires_in"] == "180" and token["token_type"] == "bearer"
    headers = {
        "Authorization": f"Bearer {token['access_token']}",
        "X-Country": "CD",
        "X-Currency": "CDF",
    }
    body = {
        "reference": "r",
        "subscriber": {"country": "CD", "currency": "CDF", "msisdn": f"243{MSISDN}"},
        "transaction": {"amount": 100, "country": "CD", "currency": "CDF", "id": "t-1"},
    }
    url = f"{fake_airtel.url}/merchant/v1/payments/"
    refused = requests.post(url, json=body, headers=headers, timeout=5).json()
    assert refused["status"]["result_code"] == "ESB000033"  # country code in the msisdn
    body["subscriber"]["msisdn"] = MSISDN
    wrong_currency = requests.post(
        url, json=body, headers={**headers, "X-Currency": "USD"}, timeout=5
    )
    assert wrong_currency.status_code == 400
    accepted = requests.post(url, json=body, headers=headers, timeout=5).json()
    assert accepted["status"]["response_code"] == "DP00800001006"
    duplicate = requests.post(url, json=body, headers=headers, timeout=5).json()
    assert duplicate["status"]["result_code"] == "ESB000041"
    enquiry = requests.get(
        f"{fake_airtel.url}/standard/v1/payments/t-1", headers=headers, timeout=5
    ).json()
    assert enquiry["data"]["transaction"]["status"] == "TIP"
    assert fake_airtel.prompts() == 1


def test_missing_credentials_refuse_to_start(payments: Payments) -> None:
    settings = payments.app.config["SETTINGS"]
    with pytest.raises(PaymentConfigError, match="AIRTEL_CLIENT_ID"):
        airtel_provider(settings.__class__(**{**_fields(settings), "airtel_client_id": ""}))


def _fields(settings: Any) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


def test_msisdn_is_the_national_number() -> None:
    adapter = AirtelProvider(AirtelConfig("http://127.0.0.1:9", "id", "secret"))
    assert adapter.msisdn("+243990000002") == "990000002"
    assert adapter.msisdn("+256700000001") == "700000001"
