"""PayGateGlobal (Flooz, T-Money) against its fake: pay, callback, v2/status, every failure."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from fakes.paygate import (
    BAD_PARAMS,
    BAD_TOKEN,
    CANCELLED,
    PAID,
    PENDING,
    FakePayGate,
    callback_body,
)
from gateway.app import create_app
from payments.config import PaymentConfigError
from payments.model import FailureReason, Intent, IntentStatus
from payments.providers.base import PaymentState, PushOutcome
from payments.providers.paygate import PayGateProvider, e164, local_number
from payments.service import StartOutcome
from payments.wiring import check_operators
from tests.live_server import LiveServer
from tests.payments.conftest import CALLBACK_TOKEN, Payments

TOGO_PHONE = "+22890112233"
# The default pack's `city:` block (its defaults, one key a line), replaced whole.
CITY_BLOCK = re.compile(r"^city:\n(?:  .*\n)+", re.MULTILINE)
LOME = "city: {id: lome, name: Lomé, country: TG, currency: XOF, timezone: Africa/Lome}"


def lome_menus(tmp_path: Path) -> str:
    """Write the shipped menus.yaml as Lomé's (Togo, XOF) and return its path."""
    text = Path("menus.yaml").read_text(encoding="utf-8")
    assert CITY_BLOCK.search(text)
    path = tmp_path / "menus-lome.yaml"
    path.write_text(CITY_BLOCK.sub(LOME + "\n", text, count=1), encoding="utf-8")
    return str(path)


@pytest.fixture
def fake_paygate(live: LiveServer) -> Iterator[FakePayGate]:
    """Yield a running fake PayGateGlobal whose dashboard callback URL is our app's."""
    fake = FakePayGate().start()
    fake.state.callback_url = f"{live.url}/payments/paygate/callback/t/{CALLBACK_TOKEN}"
    yield fake
    fake.stop()


@pytest.fixture
def app_config(
    app_config: dict[str, Any], fake_paygate: FakePayGate, tmp_path: Path
) -> dict[str, Any]:
    """Return settings of a Lomé gateway with Flooz and T-Money through PayGate."""
    return {
        **app_config,
        "menus_path": lome_menus(tmp_path),
        "payment_operators": "flooz:paygate,tmoney:paygate,mpesa:daraja",
        "paygate_base_url": fake_paygate.url,
        "paygate_auth_token": fake_paygate.state.auth_token,
        "paygate_timeout_seconds": 1.0,
    }


def start(payments: Payments, amount: int, operator: str = "flooz") -> Intent:
    """Confirm an XOF payment from a Togolese phone and return its intent."""
    assessment = payments.assessment(amount, currency="XOF")
    result = payments.start(assessment, operator=operator, phone=TOGO_PHONE)
    assert result.outcome is StartOutcome.STARTED and result.intent is not None
    return result.intent


def test_flooz_payment_reaches_the_receipt_sms(
    payments: Payments, fake_paygate: FakePayGate
) -> None:
    intent = start(payments, 5000)
    payments.work()
    [sent] = fake_paygate.state.pay_requests
    assert sent == {
        "auth_token": fake_paygate.state.auth_token,
        "phone_number": "90112233",
        "amount": 5000,
        "description": f"road {intent.assessment_reference}",
        "identifier": intent.id,
        "network": "FLOOZ",
    }
    [payment] = fake_paygate.state.payments
    pushed = payments.intent(intent.id)
    assert pushed.status is IntentStatus.PUSHED
    assert pushed.provider_reference == payment.tx_reference
    fake_paygate.settle()
    assert fake_paygate.deliver_callbacks() == [200]
    payments.work()
    done = payments.intent(intent.id)
    assert done.status is IntentStatus.SUCCEEDED and done.settlement == "recorded"
    assert done.provider_receipt == payment.payment_reference
    assert fake_paygate.state.status_queries == [intent.id]  # confirmed through v2/status
    sms = payments.sms(f"payment-receipt:{intent.id}")
    assert sms is not None and sms.template == "payment_receipt"
    assert payments.paid(intent.assessment_id)


def test_tmoney_goes_to_the_tmoney_network(payments: Payments, fake_paygate: FakePayGate) -> None:
    start(payments, 5000, operator="tmoney")
    payments.work()
    [sent] = fake_paygate.state.pay_requests
    assert sent["network"] == "TMONEY"


def test_a_form_encoded_callback_is_read_too(payments: Payments, fake_paygate: FakePayGate) -> None:
    fake_paygate.state.callback_format = "form"
    intent = start(payments, 5000)
    payments.work()
    fake_paygate.settle()
    assert fake_paygate.deliver_callbacks() == [200]
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.SUCCEEDED


def test_cancelled_by_the_customer(payments: Payments, fake_paygate: FakePayGate) -> None:
    intent = start(payments, 5001)  # status 6
    payments.work()
    fake_paygate.settle()
    assert fake_paygate.deliver_callbacks() == [200]
    payments.work()
    failed = payments.intent(intent.id)
    assert (failed.status, failed.reason) == (IntentStatus.FAILED, FailureReason.CANCELLED)
    assert fake_paygate.state.status_queries == [intent.id]  # the failure was confirmed too
    sms = payments.sms(f"payment-failed:{intent.id}")
    assert sms is not None and sms.template == "payment_failed_cancelled"
    assert not payments.paid(intent.assessment_id)


def test_expired_without_callback_is_found_by_reconciliation(
    payments: Payments, fake_paygate: FakePayGate
) -> None:
    intent = start(payments, 5003)  # never answered: status 4, no callback
    payments.work()
    assert payments.service.reconcile(now=payments.later(120)).counts == {"waiting": 1}
    fake_paygate.settle()
    assert fake_paygate.deliver_callbacks() == []
    assert payments.service.reconcile(now=payments.later(180)).counts == {"failed": 1}
    failed = payments.intent(intent.id)
    assert (failed.status, failed.reason) == (IntentStatus.FAILED, FailureReason.TIMEOUT)
    sms = payments.sms(f"payment-failed:{intent.id}")
    assert sms is not None and sms.template == "payment_failed_timeout"


@pytest.mark.parametrize("status", [BAD_TOKEN, BAD_PARAMS])
def test_a_refused_pay_request_tells_the_citizen_nothing_was_charged(
    payments: Payments, fake_paygate: FakePayGate, status: int
) -> None:
    fake_paygate.state.refuse_next_pay = status
    intent = start(payments, 5000)
    payments.work()
    failed = payments.intent(intent.id)
    assert (failed.status, failed.reason) == (IntentStatus.FAILED, FailureReason.OTHER)
    assert fake_paygate.state.payments == []
    sms = payments.sms(f"payment-failed:{intent.id}")
    assert sms is not None and sms.template == "payment_failed_other"


def test_a_lost_callback_is_found_by_reconciliation(
    payments: Payments, fake_paygate: FakePayGate
) -> None:
    intent = start(payments, 5000)
    payments.work()
    fake_paygate.settle()  # paid, but the callback never arrives
    assert payments.service.reconcile(now=payments.later(120)).counts == {"succeeded": 1}
    done = payments.intent(intent.id)
    assert done.status is IntentStatus.SUCCEEDED and payments.paid(intent.assessment_id)
    assert payments.sms(f"payment-receipt:{intent.id}") is not None


def test_a_timed_out_push_is_never_charged_twice(
    payments: Payments, fake_paygate: FakePayGate
) -> None:
    fake_paygate.state.hang_next_pay = 2.5  # PayGate records it, we stop waiting after 1 s
    intent = start(payments, 5000)
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.PUSHING
    payments.service.push(intent.id)  # a retried job does not push again
    provider = payments.service.providers["paygate"]
    # Even a direct second push of the same intent is a duplicate, never a second charge.
    again = provider.push(payments.intent(intent.id))
    assert again.outcome is PushOutcome.ACCEPTED
    assert len(fake_paygate.state.payments) == 1
    assert again.provider_reference == fake_paygate.state.payments[0].tx_reference
    fake_paygate.settle()
    assert fake_paygate.deliver_callbacks() == [200]
    payments.work()
    done = payments.intent(intent.id)
    assert done.status is IntentStatus.SUCCEEDED
    assert done.provider_reference == fake_paygate.state.payments[0].tx_reference
    assert (
        len(fake_paygate.state.payments) == 1
        and len(payments.civic_payments(done.assessment_id)) == 1
    )


def test_a_forged_success_for_an_unpaid_payment_changes_nothing(
    payments: Payments, fake_paygate: FakePayGate
) -> None:
    intent = start(payments, 5000)
    payments.work()
    [payment] = fake_paygate.state.payments  # still pending: the customer has not answered
    forged = {**callback_body(payment), "status": PAID, "payment_reference": "FORGED"}
    response = requests.post(fake_paygate.state.callback_url, json=forged, timeout=5)
    assert response.status_code == 200
    assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}  # stored, not retried
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.PUSHED
    assert not payments.paid(intent.assessment_id)
    assert payments.sms(f"payment-receipt:{intent.id}") is None


def test_a_forged_failure_for_a_paid_payment_changes_nothing(
    payments: Payments, fake_paygate: FakePayGate
) -> None:
    intent = start(payments, 5000)
    payments.work()
    [payment] = fake_paygate.state.payments
    fake_paygate.settle()  # paid
    forged = {**callback_body(payment), "status": CANCELLED}
    url = fake_paygate.state.callback_url
    assert requests.post(url, json=forged, timeout=5).status_code == 200
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.PUSHED
    assert payments.sms(f"payment-failed:{intent.id}") is None
    [review] = payments.store.reviews.list_reviews()
    assert review.reason == "contradicted_by_status_query" and review.intent_id == intent.id
    # The real callback (or reconciliation) still records the payment.
    assert fake_paygate.deliver_callbacks() == [200]
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.SUCCEEDED


def test_a_callback_with_another_amount_is_held_for_review(
    payments: Payments, fake_paygate: FakePayGate
) -> None:
    intent = start(payments, 5000)
    payments.work()
    [payment] = fake_paygate.state.payments
    fake_paygate.settle()
    body = {**callback_body(payment), "amount": 50}
    url = fake_paygate.state.callback_url
    assert requests.post(url, data=json.dumps(body), timeout=5).status_code == 200
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.PUSHED
    assert [r.reason for r in payments.store.reviews.list_reviews()] == ["amount_mismatch"]


def test_a_payment_paygate_never_saw_is_not_found(
    payments: Payments, fake_paygate: FakePayGate
) -> None:
    assessment = payments.assessment(5000, currency="XOF")
    result = payments.service.start(
        session_id="s1", assessment=assessment, phone=TOGO_PHONE, operator="flooz", lang="fr"
    )
    assert result.intent is not None
    provider = payments.service.providers["paygate"]
    assert isinstance(provider, PayGateProvider)
    assert provider.query(result.intent).state is PaymentState.NOT_FOUND


def test_only_xof_from_togolese_phones_is_sent(
    payments: Payments, fake_paygate: FakePayGate
) -> None:
    result = payments.start(payments.assessment(5000), operator="flooz", phone=TOGO_PHONE)
    assert result.intent is not None  # a CDF assessment
    other = payments.start(payments.assessment(5000, currency="XOF"), operator="flooz")
    assert other.intent is not None  # a Congolese phone
    payments.work()
    for intent in (result.intent, other.intent):
        failed = payments.intent(intent.id)
        assert (failed.status, failed.reason) == (IntentStatus.FAILED, FailureReason.OTHER)
    assert fake_paygate.state.pay_requests == []


def test_paygate_in_a_cdf_city_does_not_start(app_config: dict[str, Any]) -> None:
    goma = {**app_config, "menus_path": "menus.yaml"}
    with pytest.raises(PaymentConfigError, match="XOF"):
        create_app(goma)


def test_orange_currency_must_be_the_citys(app_config: dict[str, Any]) -> None:
    orange = {
        **app_config,
        "payment_operators": "orange:orange",
        "orange_client_id": "id",
        "orange_client_secret": "secret",
        "orange_merchant_key": "mk",
    }
    with pytest.raises(PaymentConfigError, match="play currency"):
        create_app({**orange, "orange_country": "tg"})  # OUV outside the dev platform
    with pytest.raises(PaymentConfigError, match="not the city's currency"):
        create_app({**orange, "orange_country": "tg", "orange_currency": "CDF"})


def test_phone_numbers_in_paygate_terms() -> None:
    assert local_number("+22890112233") == "90112233"
    assert local_number("+243810000001") is None
    assert e164("90112233") == e164("22890112233") == e164("+22890112233") == TOGO_PHONE
    assert e164("12") is None and e164(None) is None


def test_paygate_serves_flooz_and_tmoney_only() -> None:
    check_operators({"flooz": "paygate", "tmoney": "paygate", "mpesa": "daraja"})
    with pytest.raises(PaymentConfigError, match="moov"):
        check_operators({"moov": "paygate"})


@pytest.mark.parametrize(
    "body",
    [b"garbage", b'{"identifier": 5, "status": 0}', b"status=0&tx_reference=1", b"[1, 2]"],
)
def test_a_malformed_callback_is_stored_and_reviewed_never_an_error(
    payments: Payments, fake_paygate: FakePayGate, body: bytes
) -> None:
    intent = start(payments, 5000)
    payments.work()
    response = requests.post(fake_paygate.state.callback_url, data=body, timeout=5)
    assert response.status_code == 200
    assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}  # stored, not retried
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.PUSHED
    assert [r.reason for r in payments.store.reviews.list_reviews()] == ["unparseable"]


def test_a_payment_still_pending_waits_and_a_second_confirm_gets_the_same_intent(
    payments: Payments, fake_paygate: FakePayGate
) -> None:
    fake_paygate.state.next_outcomes = [PENDING]  # the customer has not answered yet
    assessment = payments.assessment(5000, currency="XOF")
    first = payments.start(assessment, operator="flooz", phone=TOGO_PHONE)
    assert first.intent is not None
    payments.work()
    fake_paygate.settle()
    assert payments.service.reconcile(now=payments.later(120)).counts == {"waiting": 1}
    second = payments.start(assessment, operator="tmoney", phone=TOGO_PHONE)
    assert second.outcome is StartOutcome.ALREADY_PENDING
    assert second.intent is not None and second.intent.id == first.intent.id
    fake_paygate.finish(first.intent.id, PAID)
    assert fake_paygate.deliver_callbacks() == [200]
    assert fake_paygate.redeliver(first.intent.id) == 200  # PayGate retries
    payments.work()
    assert payments.intent(first.intent.id).status is IntentStatus.SUCCEEDED
    assert len(fake_paygate.state.payments) == 1 and payments.store.receipts.count_receipts() == 1


def test_a_broken_answer_is_never_read_as_nothing_charged(
    payments: Payments, fake_paygate: FakePayGate
) -> None:
    fake_paygate.state.break_next_pay = True  # recorded at PayGate, HTTP 500 to us
    intent = start(payments, 5000)
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.PUSHING
    assert payments.sms(f"payment-failed:{intent.id}") is None
    fake_paygate.settle()  # the citizen approved the prompt; the callback is lost
    assert payments.service.reconcile(now=payments.later(120)).counts == {"succeeded": 1}
    assert len(fake_paygate.state.pay_requests) == 1
    assert payments.intent(intent.id).status is IntentStatus.SUCCEEDED
