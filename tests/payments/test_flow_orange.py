"""Orange Money Web Payment against its fake: token, webpayment, link SMS, notif_token, status."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fakes.orange import FakeOrange
from payments.config import PaymentConfigError
from payments.model import FailureReason, Intent, IntentStatus
from payments.providers.base import PaymentState
from payments.providers.orange import (
    OrangeProvider,
    compact_id,
    intent_of,
    order_id,
    split_reference,
)
from payments.service import StartOutcome
from payments.wiring import orange_provider
from tests.conftest import UssdPhone
from tests.payments.conftest import CALLBACK_TOKEN, Payments

ORANGE_PHONE = "+243890000001"


@pytest.fixture
def fake_orange() -> Iterator[FakeOrange]:
    """Yield a running fake Orange Money Web Payment API."""
    fake = FakeOrange().start()
    yield fake
    fake.stop()


@pytest.fixture
def app_config(app_config: dict[str, Any], fake_orange: FakeOrange) -> dict[str, Any]:
    """Return settings with orange through Web Payment (the dev platform: currency OUV)."""
    state = fake_orange.state
    return {
        **app_config,
        "payment_operators": "orange:orange,mpesa:daraja",
        "orange_base_url": fake_orange.url,
        "orange_client_id": state.client_id,
        "orange_client_secret": state.client_secret,
        "orange_merchant_key": state.merchant_key,
        "orange_timeout_seconds": 1.0,
    }


def start(payments: Payments, amount: int) -> Intent:
    """Confirm a payment with Orange Money and return its intent."""
    result = payments.start(amount, operator="orange", phone=ORANGE_PHONE)
    assert result.outcome is StartOutcome.STARTED and result.intent is not None
    return result.intent


def provider(payments: Payments) -> OrangeProvider:
    """Return the app's Orange adapter."""
    found = payments.service.providers["orange"]
    assert isinstance(found, OrangeProvider)
    return found


def test_web_payment_link_by_sms_then_receipt(payments: Payments, fake_orange: FakeOrange) -> None:
    intent = start(payments, 25000)
    payments.work()
    [sent] = fake_orange.state.payment_requests
    assert sent["merchant_key"] == fake_orange.state.merchant_key
    assert (sent["currency"], sent["amount"], sent["lang"]) == ("OUV", 25000, "fr")
    assert sent["order_id"] == order_id(payments.intent(intent.id)) and len(sent["order_id"]) <= 30
    assert len(sent["reference"]) <= 30 and len(sent["notif_url"]) <= 120
    assert f"/payments/orange/callback/t/{CALLBACK_TOKEN}?intent=" in sent["notif_url"]
    [payment] = fake_orange.state.payments
    pushed = payments.intent(intent.id)
    assert pushed.status is IntentStatus.PUSHED
    assert split_reference(pushed.provider_reference)[0] == payment.pay_token
    assert payment.notif_token not in (pushed.provider_reference or "")  # only its hash
    link = payments.sms(f"payment-link:{intent.id}")
    assert link is not None and link.template == "payment_link"
    assert f"{fake_orange.url}/payment/pay_token/{payment.pay_token}" in link.text
    fake_orange.settle()  # the citizen opens the page and pays
    assert fake_orange.deliver_notifications() == [200]
    payments.work()
    done = payments.intent(intent.id)
    assert done.status is IntentStatus.SUCCEEDED and done.settlement == "recorded"
    assert done.provider_receipt == payment.txnid
    [query] = fake_orange.state.status_queries  # the notification was confirmed
    assert query == {"order_id": sent["order_id"], "amount": 25000, "pay_token": payment.pay_token}
    assert fake_orange.state.token_requests == 1  # cached between webpayment and status
    receipt = payments.sms(f"payment-receipt:{intent.id}")
    assert receipt is not None and receipt.template == "payment_receipt"


def test_a_failed_payment_tells_the_citizen(payments: Payments, fake_orange: FakeOrange) -> None:
    intent = start(payments, 25001)  # the customer's payment fails on the page
    payments.work()
    fake_orange.settle()
    assert fake_orange.deliver_notifications() == [200]
    payments.work()
    failed = payments.intent(intent.id)
    assert (failed.status, failed.reason) == (IntentStatus.FAILED, FailureReason.OTHER)
    sms = payments.sms(f"payment-failed:{intent.id}")
    assert sms is not None and sms.template == "payment_failed_other"


def test_an_unpaid_link_expires_after_ten_minutes(
    payments: Payments, fake_orange: FakeOrange
) -> None:
    intent = start(payments, 25003)  # nobody opens the page
    payments.work()
    fake_orange.settle()
    assert fake_orange.deliver_notifications() == []
    assert payments.service.reconcile(now=payments.later(120)).counts == {"waiting": 1}
    fake_orange.advance(600)
    assert payments.service.reconcile(now=payments.later(180)).counts == {"failed": 1}
    failed = payments.intent(intent.id)
    assert (failed.status, failed.reason) == (IntentStatus.FAILED, FailureReason.TIMEOUT)
    sms = payments.sms(f"payment-failed:{intent.id}")
    assert sms is not None and sms.template == "payment_failed_timeout"


def test_a_lost_notification_is_found_by_reconciliation(
    payments: Payments, fake_orange: FakeOrange
) -> None:
    intent = start(payments, 25000)
    payments.work()
    fake_orange.settle()  # paid; the notification never arrives
    assert payments.service.reconcile(now=payments.later(120)).counts == {"succeeded": 1}
    assert payments.paid(payments.intent(intent.id).assessment_id)


def test_a_notification_with_a_wrong_notif_token_changes_nothing(
    payments: Payments, fake_orange: FakeOrange
) -> None:
    intent = start(payments, 25000)
    payments.work()
    [payment] = fake_orange.state.payments
    fake_orange.settle()  # even when the payment really succeeded
    forged = {"status": "SUCCESS", "notif_token": "0" * 32, "txnid": "MP000000.0000.A00000"}
    url = payment.request["notif_url"]
    assert requests.post(url, json=forged, timeout=5).status_code == 200
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.PUSHED
    assert fake_orange.state.status_queries == []  # not even worth a query
    [review] = payments.store.reviews.list_reviews()
    assert review.reason == "bad_signature"


def test_a_notification_the_status_contradicts_changes_nothing(
    payments: Payments, fake_orange: FakeOrange
) -> None:
    intent = start(payments, 25000)
    payments.work()
    [payment] = fake_orange.state.payments  # INITIATED: nobody has paid
    url = payment.request["notif_url"]
    claim = {"status": "SUCCESS", "notif_token": payment.notif_token, "txnid": "MP1"}
    assert requests.post(url, json=claim, timeout=5).status_code == 200
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.PUSHED
    fake_orange.settle()  # now it is paid: a FAILED claim is contradicted
    claim = {"status": "FAILED", "notif_token": payment.notif_token, "txnid": ""}
    assert requests.post(url, json=claim, timeout=5).status_code == 200
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.PUSHED
    assert payments.sms(f"payment-failed:{intent.id}") is None
    reviews = payments.store.reviews.list_reviews()
    assert [r.reason for r in reviews] == ["contradicted_by_status_query"]


def test_a_refused_web_payment_tells_the_citizen(
    payments: Payments, fake_orange: FakeOrange
) -> None:
    fake_orange.state.refuse_next_payment = True
    intent = start(payments, 25000)
    payments.work()
    failed = payments.intent(intent.id)
    assert (failed.status, failed.reason) == (IntentStatus.FAILED, FailureReason.OTHER)
    assert payments.sms(f"payment-link:{intent.id}") is None


def test_a_lost_answer_is_made_again_with_a_new_order(
    payments: Payments, fake_orange: FakeOrange
) -> None:
    fake_orange.state.hang_next_payment = 2.5  # created at Orange, the answer never reaches us
    intent = start(payments, 25000)
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.PUSHING
    assert payments.sms(f"payment-link:{intent.id}") is None  # nobody has a link: no charge
    assert provider(payments).query(payments.intent(intent.id)).state is PaymentState.NOT_FOUND
    assert payments.service.reconcile(now=payments.later(120)).counts == {"push_requeued": 1}
    payments.work()
    first, second = fake_orange.state.payment_requests
    assert first["order_id"] != second["order_id"]
    assert payments.intent(intent.id).status is IntentStatus.PUSHED
    assert payments.sms(f"payment-link:{intent.id}") is not None
    fake_orange.answer(fake_orange.state.payments[1], "pay")  # the page the citizen got
    assert fake_orange.deliver_notifications() == [200]
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.SUCCEEDED
    assert payments.store.receipts.count_receipts() == 1


def test_an_expired_token_is_fetched_again(payments: Payments, fake_orange: FakeOrange) -> None:
    first = start(payments, 25000)
    payments.work()
    fake_orange.expire_tokens()
    adapter = provider(payments)
    assert adapter.query(payments.intent(first.id)).state is PaymentState.UNKNOWN  # 401 code 42
    assert adapter.query(payments.intent(first.id)).state is PaymentState.PENDING
    assert fake_orange.state.token_requests == 2


def test_notif_url_hint_round_trip() -> None:
    intent_id = "0123456789abcdef0123456789abcdef"
    assert len(compact_id(intent_id)) == 22
    assert intent_of(compact_id(intent_id)) == intent_id == intent_of(intent_id)
    assert intent_of("not-an-id") is None


def test_a_notif_url_orange_would_refuse_stops_the_start(
    payments: Payments, fake_orange: FakeOrange
) -> None:
    settings = payments.app.config["SETTINGS"]
    long = type(settings).from_env(
        {},
        {
            **{f: getattr(settings, f) for f in ("orange_client_id", "orange_client_secret")},
            "orange_merchant_key": "mk",
            "public_base_url": "https://" + "x" * 60 + ".example.org",
        },
    )
    with pytest.raises(PaymentConfigError, match="120"):
        orange_provider(long, lambda _: None)


def test_the_ussd_end_screen_announces_a_link_not_a_prompt(
    payments: Payments, fake_orange: FakeOrange, ussd: UssdPhone
) -> None:
    ussd.dial(ORANGE_PHONE)
    ussd.type("1", "1", "100001", "1")  # demo city: road tax 26 500 CDF -> Pay
    screen = ussd.type("1")  # Orange Money, the first operator here
    assert screen.end and "lien de paiement Orange Money" in screen.body, screen.body
    assert "10 min" in screen.body and "PIN" not in screen.body.upper()
    payments.work()
    [payment] = fake_orange.state.payments
    assert payment.request["amount"] == 26500


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "unparseable"),
        (b'{"status": "SUCCESS", "txnid": "MP1"}', "unparseable"),
        (b'{"status": "SUCCESS", "notif_token": 12}', "unparseable"),
    ],
)
def test_a_malformed_notification_is_stored_and_reviewed_never_an_error(
    payments: Payments, fake_orange: FakeOrange, body: bytes, reason: str
) -> None:
    intent = start(payments, 25000)
    payments.work()
    [payment] = fake_orange.state.payments
    response = requests.post(payment.request["notif_url"], data=body, timeout=5)
    assert response.status_code == 200
    assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}  # stored, not retried
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.PUSHED
    assert [r.reason for r in payments.store.reviews.list_reviews()] == [reason]


def test_a_notification_naming_another_intent_is_refused(
    payments: Payments, fake_orange: FakeOrange
) -> None:
    first, second = start(payments, 25000), start(payments, 26000)
    payments.work()
    paid, _ = fake_orange.state.payments
    fake_orange.settle()
    # The first payment's genuine notif_token, sent to the second intent's notif_url.
    url = fake_orange.state.payments[1].request["notif_url"]
    assert requests.post(url, json=paid.notification(), timeout=5).status_code == 200
    payments.work()
    assert payments.intent(second.id).status is IntentStatus.PUSHED
    assert payments.intent(first.id).status is IntentStatus.PUSHED
    assert [r.reason for r in payments.store.reviews.list_reviews()] == ["bad_signature"]


def test_an_open_page_waits_then_a_replayed_notification_pays_once(
    payments: Payments, fake_orange: FakeOrange
) -> None:
    fake_orange.state.next_outcomes = ["PENDING"]  # the citizen opened the page, no more
    intent = start(payments, 25000)
    payments.work()
    fake_orange.settle()
    assert payments.service.reconcile(now=payments.later(120)).counts == {"waiting": 1}
    [payment] = fake_orange.payments_for(intent.id[:27])
    fake_orange.answer(payment, "pay")
    assert fake_orange.deliver_notifications() == [200]
    assert fake_orange.redeliver(payment) == 200  # the same notification again
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.SUCCEEDED
    assert payments.store.receipts.count_receipts() == 1
