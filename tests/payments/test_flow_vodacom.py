"""Vodacom M-Pesa OpenAPI (C2B single stage) against its fake: session, blocking push, INS
codes to the citizen's SMS, duplicates, timeouts reconciled, async result acknowledged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
from rq import Queue

from fakes.vodacom import FakeVodacom
from payments.model import FailureReason, IntentStatus
from payments.providers.base import PushOutcome
from payments.providers.vodacom import VodacomProvider, conversation_id
from payments.queues import PAYMENTS_QUEUE
from payments.service import PaymentService, StartOutcome
from runtime import keys
from tests.conftest import UssdPhone
from tests.live_server import LiveServer
from tests.payments.conftest import CALLBACK_TOKEN, SANDBOX_PHONE, Payments

PHONE = "+243812345678"
DIGITS = PHONE.lstrip("+")


class Clock:
    """Monotonic time the test moves: the adapter's sleep advances it, the fake reads it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_vodacom() -> Iterator[FakeVodacom]:
    """Yield a running fake M-Pesa OpenAPI (vodacomDRC, USD)."""
    fake = FakeVodacom().start()
    yield fake
    fake.stop()


@pytest.fixture
def app_config(
    app_config: dict[str, Any], live: LiveServer, fake_vodacom: FakeVodacom
) -> dict[str, Any]:
    """Return the payments settings with M-Pesa through Vodacom's OpenAPI."""
    state = fake_vodacom.state
    return {
        **app_config,
        "payment_operators": "mpesa:vodacom,airtel:sandbox",
        "vodacom_base_url": fake_vodacom.url,
        "vodacom_api_key": state.api_key,
        "vodacom_public_key": fake_vodacom.public_key,
        "vodacom_service_provider_code": state.service_provider_code,
        "vodacom_push_timeout_seconds": 1.0,
        "vodacom_timeout_seconds": 2.0,
        "vodacom_session_activation_seconds": 0.0,
    }


def start(payments: Payments, amount: int = 25) -> str:
    """Confirm a USD payment with M-Pesa and queue its push; return the intent id."""
    assessment = payments.assessment(amount, currency="USD")
    result = payments.start(assessment, operator="mpesa", phone=PHONE)
    assert result.outcome is StartOutcome.STARTED and result.intent is not None
    return result.intent.id


def vodacom(payments: Payments) -> VodacomProvider:
    provider = payments.service.providers["vodacom"]
    assert isinstance(provider, VodacomProvider)
    return provider


def test_a_payment_goes_through_to_the_receipt_sms(
    payments: Payments, fake_vodacom: FakeVodacom
) -> None:
    intent_id = start(payments)
    payments.work()
    [txn] = fake_vodacom.state.transactions
    sent = txn.request
    assert sent["input_Amount"] == "25" and sent["input_Currency"] == "USD"
    assert sent["input_Country"] == "DRC" and sent["input_CustomerMSISDN"] == DIGITS
    assert sent["input_ServiceProviderCode"] == fake_vodacom.state.service_provider_code
    assert sent["input_ThirdPartyConversationID"] == conversation_id(intent_id)
    intent = payments.intent(intent_id)
    assert intent.status is IntentStatus.SUCCEEDED and intent.settlement == "recorded"
    assert intent.provider_receipt == txn.transaction_id
    [row] = payments.civic_payments(intent.assessment_id)
    assert row.provider_reference == txn.transaction_id
    sms = payments.sms(f"payment-receipt:{intent_id}")
    assert sms is not None and sms.template == "payment_receipt"
    assert fake_vodacom.state.session_requests == 1


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("INS-5", FailureReason.CANCELLED),
        ("INS-2006", FailureReason.INSUFFICIENT_FUNDS),
        ("INS-2051", FailureReason.INVALID_NUMBER),
        ("INS-1", FailureReason.OTHER),
        ("INS-6", FailureReason.OTHER),
    ],
)
def test_each_ins_code_reaches_the_right_sms(
    payments: Payments, fake_vodacom: FakeVodacom, code: str, reason: FailureReason
) -> None:
    fake_vodacom.script(code)
    intent_id = start(payments)
    payments.work()
    intent = payments.intent(intent_id)
    assert (intent.status, intent.reason) == (IntentStatus.FAILED, reason)
    assert not payments.paid(intent.assessment_id)
    sms = payments.sms(f"payment-failed:{intent_id}")
    assert sms is not None and sms.template == f"payment_failed_{reason.value}"
    assert fake_vodacom.c2b_count() == 1


def test_a_young_session_is_waited_for_not_failed(
    payments: Payments, fake_vodacom: FakeVodacom
) -> None:
    clock = Clock()
    fake_vodacom.state.clock = clock
    fake_vodacom.state.session_activation_seconds = 30.0
    config = replace(vodacom(payments).config, session_activation_seconds=30.0)
    patient = VodacomProvider(config, clock=clock, sleep=clock.sleep)
    # The wired adapter with production's activation delay and the clock the fake reads.
    payments.service.providers["vodacom"] = patient  # type: ignore[index]
    intent_id = start(payments)
    payments.work()
    intent = payments.intent(intent_id)
    assert intent.status is IntentStatus.SUCCEEDED
    assert fake_vodacom.state.refused_young >= 1
    assert fake_vodacom.state.session_requests == 1  # waited for it, never re-created it
    assert sum(clock.slept) >= 30.0
    assert fake_vodacom.c2b_count() == 1


def test_a_status_query_on_a_young_session_does_not_block(
    payments: Payments, fake_vodacom: FakeVodacom
) -> None:
    clock = Clock()
    fake_vodacom.state.clock = clock
    fake_vodacom.state.session_activation_seconds = 30.0
    config = replace(vodacom(payments).config, session_activation_seconds=30.0)
    impatient = VodacomProvider(config, clock=clock, sleep=clock.sleep)
    payments.redis.delete(f"rq:queue:{keys.queue(PAYMENTS_QUEUE)}")
    intent = payments.intent(start(payments))
    status = impatient.query(intent)
    assert status.state.value == "unknown" and clock.slept == []


def test_an_old_session_is_renewed(payments: Payments, fake_vodacom: FakeVodacom) -> None:
    clock = Clock()
    fake_vodacom.state.clock = clock
    fake_vodacom.state.session_lifetime_seconds = 100.0
    config = vodacom(payments).config
    provider = VodacomProvider(config, clock=clock, sleep=clock.sleep)
    payments.redis.delete(f"rq:queue:{keys.queue(PAYMENTS_QUEUE)}")
    first = payments.intent(start(payments))
    assert provider.push(first).outcome is PushOutcome.ACCEPTED
    clock.now += 150.0  # the fake expired it; our adapter still thinks it lives (3600 s)
    second = payments.intent(start(payments))
    assert provider.push(second).outcome is PushOutcome.ACCEPTED
    assert fake_vodacom.state.session_requests == 2
    assert fake_vodacom.c2b_count() == 2


def test_a_duplicate_conversation_id_never_charges_twice(
    payments: Payments, fake_vodacom: FakeVodacom
) -> None:
    intent_id = start(payments)
    payments.redis.delete(f"rq:queue:{keys.queue(PAYMENTS_QUEUE)}")
    # An earlier attempt (a job that died after sending) already reached Vodacom.
    assert vodacom(payments).push(payments.intent(intent_id)).outcome is PushOutcome.ACCEPTED
    payments.service.push(intent_id)
    assert fake_vodacom.state.duplicates == [conversation_id(intent_id)]
    assert fake_vodacom.c2b_count() == 1
    intent = payments.intent(intent_id)
    assert intent.status is IntentStatus.PUSHED  # INS-10: the first request is the payment
    assert payments.service.reconcile(now=payments.later(120)).counts == {"succeeded": 1}
    intent = payments.intent(intent_id)
    assert intent.status is IntentStatus.SUCCEEDED
    assert len(payments.civic_payments(intent.assessment_id)) == 1


def test_ins9_stays_pending_then_is_reconciled(
    payments: Payments, fake_vodacom: FakeVodacom
) -> None:
    fake_vodacom.script("INS-9", status="Pending")
    intent_id = start(payments)
    payments.work()
    intent = payments.intent(intent_id)
    assert intent.status is IntentStatus.PUSHED and intent.reason is None
    assert payments.sms(f"payment-failed:{intent_id}") is None
    assert payments.service.reconcile(now=payments.later(120)).counts == {"waiting": 1}
    fake_vodacom.set_status(conversation_id(intent_id), "Completed")
    assert payments.service.reconcile(now=payments.later(180)).counts == {"succeeded": 1}
    intent = payments.intent(intent_id)
    assert intent.status is IntentStatus.SUCCEEDED and payments.paid(intent.assessment_id)
    sms = payments.sms(f"payment-receipt:{intent_id}")
    assert sms is not None and sms.template == "payment_receipt"


def test_ins9_that_expired_tells_the_citizen_it_timed_out(
    payments: Payments, fake_vodacom: FakeVodacom
) -> None:
    fake_vodacom.script("INS-9")  # the query then says Expired
    intent_id = start(payments)
    payments.work()
    assert payments.service.reconcile(now=payments.later(120)).counts == {"failed": 1}
    intent = payments.intent(intent_id)
    assert (intent.status, intent.reason) == (IntentStatus.FAILED, FailureReason.TIMEOUT)
    sms = payments.sms(f"payment-failed:{intent_id}")
    assert sms is not None and sms.template == "payment_failed_timeout"


def test_a_read_timeout_is_unknown_and_never_pushed_again(
    payments: Payments, fake_vodacom: FakeVodacom
) -> None:
    fake_vodacom.script("INS-0", delay=2.5)  # past our 1 s read timeout: the PIN is typed late
    intent_id = start(payments)
    payments.work()
    intent = payments.intent(intent_id)
    assert intent.status is IntentStatus.PUSHING and intent.provider_reference is None
    payments.service.push(intent_id)  # a retry of the job
    payments.work()
    assert fake_vodacom.c2b_count() == 1
    stale = payments.service.config.stale_push_seconds
    counts = payments.service.reconcile(now=payments.later(stale + 1)).counts
    assert counts == {"succeeded": 1}
    intent = payments.intent(intent_id)
    assert intent.status is IntentStatus.SUCCEEDED and payments.paid(intent.assessment_id)
    assert fake_vodacom.c2b_count() == 1 and fake_vodacom.state.duplicates == []


def test_the_market_spelling_of_the_status_field_is_read(
    payments: Payments, fake_vodacom: FakeVodacom
) -> None:
    fake_vodacom.state.status_field = "output_TransactionStatus"
    fake_vodacom.script("INS-9", status="Completed")
    intent_id = start(payments)
    payments.work()
    assert payments.service.reconcile(now=payments.later(120)).counts == {"succeeded": 1}
    assert payments.intent(intent_id).status is IntentStatus.SUCCEEDED


def test_the_push_job_gets_the_long_timeout_and_never_runs_in_the_hop(
    payments: Payments, fake_vodacom: FakeVodacom, ussd: UssdPhone
) -> None:
    ussd.dial(SANDBOX_PHONE)
    ussd.type("1", "1", "100001")  # pay a tax -> road tax -> the demo reference
    screen = ussd.type("1")  # Pay: the operators, M-Pesa first
    assert not screen.end and "M-Pesa" in screen.body
    screen = ussd.type("1")  # M-Pesa
    assert screen.end, screen.body
    assert fake_vodacom.c2b_count() == 0 and fake_vodacom.state.session_requests == 0
    [job] = Queue(keys.queue(PAYMENTS_QUEUE), connection=payments.redis).get_jobs()
    service: PaymentService = payments.service
    assert job.func_name == "payments.jobs.push_intent"
    assert job.timeout == service.config.push_job_timeout_seconds
    assert service.config.push_job_timeout_seconds > 1.0 + 30.0  # PIN wait + activation
    assert service.config.stale_push_seconds > service.config.push_job_timeout_seconds


def test_the_async_result_is_stored_and_acknowledged(
    payments: Payments, fake_vodacom: FakeVodacom, live: LiveServer
) -> None:
    fake_vodacom.script("INS-9", status="Pending")
    intent_id = start(payments)
    payments.work()
    [txn] = fake_vodacom.state.transactions
    url = f"{live.url}/payments/vodacom/callback/t/{CALLBACK_TOKEN}?intent={intent_id}"
    body = fake_vodacom.result_body(txn, "INS-0")
    response = requests.post(url, data=json.dumps(body), timeout=5)
    assert response.status_code == 200
    assert response.json() == {
        "output_OriginalConversationID": txn.conversation_id,
        "output_ResponseCode": "0",
        "output_ResponseDesc": "Successfully Accepted Result",
        "output_ThirdPartyConversationID": conversation_id(intent_id),
    }
    forged = requests.post(url.replace(CALLBACK_TOKEN, "wrong-token-0123456"), json=body, timeout=5)
    assert forged.status_code == 403
    payments.work()
    # Unsigned and without an amount: it alone never credits the payment.
    assert payments.intent(intent_id).status is IntentStatus.PUSHED
    assert not payments.paid(payments.intent(intent_id).assessment_id)
