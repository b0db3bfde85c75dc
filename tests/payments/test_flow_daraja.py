"""M-Pesa Daraja STK push against the fake Daraja: token, push, callback, query, reasons."""

from __future__ import annotations

import json

import pytest
import requests

from fakes.daraja import stk_callback
from payments.model import FailureReason, IntentStatus
from payments.providers.daraja import DarajaProvider
from payments.service import StartOutcome
from runtime import keys
from tests.payments.conftest import CALLBACK_TOKEN, MPESA_PHONE, Payments

DIGITS = MPESA_PHONE.lstrip("+")


def test_stk_push_happy_path(payments: Payments) -> None:
    result = payments.start(25000, operator="mpesa")
    assert result.outcome is StartOutcome.STARTED and result.intent is not None
    payments.work()
    assert payments.fake.push_count(DIGITS) == 1
    [checkout] = payments.fake.state.pushes
    sent = checkout.request
    assert sent["Amount"] == 25000 and sent["PartyA"] == sent["PhoneNumber"] == DIGITS
    assert sent["PartyB"] == payments.fake.state.shortcode
    assert sent["AccountReference"] == result.intent.assessment_reference
    assert f"intent={result.intent.id}" in sent["CallBackURL"]
    assert f"/callback/t/{CALLBACK_TOKEN}?" in sent["CallBackURL"]
    intent = payments.intent(result.intent.id)
    assert intent.status is IntentStatus.PUSHED
    assert intent.provider_reference == checkout.checkout_id
    assert payments.fake.deliver_callbacks() == [200]
    payments.work()
    intent = payments.intent(result.intent.id)
    assert intent.status is IntentStatus.SUCCEEDED and intent.settlement == "recorded"
    assert intent.provider_receipt == checkout.receipt
    assert payments.fake.state.queries == [checkout.checkout_id]  # the callback was confirmed
    assert payments.fake.state.token_requests == 1  # cached between push and query
    [row] = payments.civic_payments(intent.assessment_id)
    assert row.provider_reference == checkout.receipt


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (25001, FailureReason.CANCELLED),  # 1032
        (25002, FailureReason.INSUFFICIENT_FUNDS),  # 1
        (25004, FailureReason.WRONG_PIN),  # 2001
        (25005, FailureReason.OTHER),  # 1025
    ],
)
def test_each_result_code_maps_to_our_reason(
    payments: Payments, amount: int, reason: FailureReason
) -> None:
    result = payments.start(amount, operator="mpesa")
    assert result.intent is not None
    payments.work()
    assert payments.fake.deliver_callbacks() == [200]
    payments.work()
    intent = payments.intent(result.intent.id)
    assert (intent.status, intent.reason) == (IntentStatus.FAILED, reason)
    assert not payments.paid(intent.assessment_id)
    sms = payments.sms(f"payment-failed:{intent.id}")
    assert sms is not None and sms.template == f"payment_failed_{reason.value}"


def test_timeout_without_callback_is_found_by_the_status_query(payments: Payments) -> None:
    result = payments.start(25003, operator="mpesa")  # 1037, and no callback
    assert result.intent is not None
    payments.work()
    assert payments.fake.deliver_callbacks() == []
    assert payments.service.reconcile(now=payments.later(120)).counts == {"failed": 1}
    intent = payments.intent(result.intent.id)
    assert (intent.status, intent.reason) == (IntentStatus.FAILED, FailureReason.TIMEOUT)


def test_a_lost_success_callback_is_recorded_through_stkpushquery(payments: Payments) -> None:
    result = payments.start(25000, operator="mpesa")
    assert result.intent is not None
    payments.work()
    payments.fake.state.processing = True  # the customer has not answered yet
    assert payments.service.reconcile(now=payments.later(120)).counts == {"waiting": 1}
    payments.fake.state.processing = False
    assert payments.service.reconcile(now=payments.later(180)).counts == {"succeeded": 1}
    intent = payments.intent(result.intent.id)
    assert intent.status is IntentStatus.SUCCEEDED and payments.paid(intent.assessment_id)


def test_a_payment_still_processing_past_its_deadline_stays_open_and_blocks_a_second(
    payments: Payments,
) -> None:
    assessment = payments.assessment(25000)
    result = payments.start(assessment, operator="mpesa")
    assert result.intent is not None
    payments.work()
    payments.fake.state.processing = True
    ttl = payments.service.config.intent_ttl_seconds
    assert payments.service.reconcile(now=payments.later(ttl + 1)).counts == {"unresolved": 1}
    intent = payments.intent(result.intent.id)
    assert intent.status is IntentStatus.PUSHED  # the money may still move: never expired
    assert payments.sms(f"payment-failed:{intent.id}") is None
    [review] = payments.store.reviews.list_reviews()
    assert (review.reason, review.intent_id) == ("unresolved_after_deadline", intent.id)
    again = payments.start(assessment, operator="mpesa", session="ATUid_again")
    assert again.outcome is StartOutcome.ALREADY_PENDING  # the citizen is told to wait
    payments.work()
    assert payments.fake.push_count() == 1
    payments.fake.state.processing = False
    assert payments.fake.deliver_callbacks() == [200]
    payments.work()
    intent = payments.intent(result.intent.id)
    assert intent.status is IntentStatus.SUCCEEDED and payments.paid(intent.assessment_id)


def test_a_push_that_timed_out_is_never_sent_again(payments: Payments) -> None:
    payments.fake.state.hang_next_push = 2.5  # past our 1 s timeout, after Daraja took it
    result = payments.start(25000, operator="mpesa")
    assert result.intent is not None
    payments.work()
    intent = payments.intent(result.intent.id)
    assert intent.status is IntentStatus.PUSHING and intent.provider_reference is None
    payments.service.push(intent.id)  # a retry of the job
    payments.service.reconcile(now=payments.later(600 - 1))  # no reference to query: wait
    assert payments.fake.push_count() == 1
    # Daraja's callback names the intent in our URL: it settles the payment.
    assert payments.fake.deliver_callbacks() == [200]
    payments.work()
    intent = payments.intent(result.intent.id)
    assert intent.status is IntentStatus.SUCCEEDED
    assert intent.provider_reference == payments.fake.state.pushes[0].checkout_id
    assert payments.fake.push_count() == 1


def test_duplicate_and_out_of_order_callbacks(payments: Payments) -> None:
    result = payments.start(25000, operator="mpesa")
    assert result.intent is not None
    payments.work()
    [checkout] = payments.fake.state.pushes
    url = checkout.request["CallBackURL"]
    success = stk_callback(checkout)
    failure = {"Body": {"stkCallback": {**success["Body"]["stkCallback"], "ResultCode": 1032}}}
    failure["Body"]["stkCallback"].pop("CallbackMetadata")
    for body in (success, success, failure, success):
        assert requests.post(url, data=json.dumps(body), timeout=5).status_code == 200
    payments.work()
    intent = payments.intent(result.intent.id)
    assert intent.status is IntentStatus.SUCCEEDED
    assert len(payments.civic_payments(intent.assessment_id)) == 1
    assert payments.store.receipts.count_receipts() == 1
    assert payments.sms(f"payment-failed:{intent.id}") is None


def test_token_is_fetched_again_after_expiry(payments: Payments) -> None:
    clock = [0.0]
    provider = payments.service.providers["daraja"]
    assert isinstance(provider, DarajaProvider)
    fresh = DarajaProvider(provider._config, provider._callback_url, clock=lambda: clock[0])
    result = payments.start(25000, operator="mpesa")
    assert result.intent is not None
    payments.redis.delete(f"rq:queue:{keys.queue('payments')}")
    intent = payments.intent(result.intent.id)
    fresh.push(intent)
    fresh.push(intent)
    assert payments.fake.state.token_requests == 1
    clock[0] = 3600.0
    fresh.push(intent)
    assert payments.fake.state.token_requests == 2
