"""The whole loop through the sandbox provider: push job, its real callback to our server,
processing, record with the back office, receipt, SMS; failures; reconciliation; expiry."""

from __future__ import annotations

import pytest

from payments.model import FailureReason, IntentStatus
from payments.receipts import ReceiptVerifier, VerificationStatus
from payments.service import StartOutcome
from runtime import keys
from tests.payments.conftest import SANDBOX_PHONE, Payments


def test_happy_path_records_the_payment_and_sends_a_verifiable_receipt(payments: Payments) -> None:
    result = payments.start(25000)
    assert result.outcome is StartOutcome.STARTED and result.intent is not None
    intent_id = result.intent.id
    payments.work()  # push job -> sandbox callback job -> our endpoint -> processing job
    intent = payments.intent(intent_id)
    assert intent.status is IntentStatus.SUCCEEDED
    assert intent.settled_at is not None and intent.settlement == "recorded"
    assert payments.sandbox.pushes(intent_id) == 1
    assert payments.paid(intent.assessment_id)
    [row] = payments.civic_payments(intent.assessment_id)
    assert row.payment_id == intent_id and row.receipt_code == intent.receipt_code
    assert intent.receipt_code is not None
    check = payments.app.extensions["guichet"].get(ReceiptVerifier).verify(intent.receipt_code)
    assert check.status is VerificationStatus.VALID
    assert (check.amount, check.tax, check.reference) == (
        25000,
        "road",
        intent.assessment_reference,
    )
    sms = payments.sms(f"payment-receipt:{intent_id}")
    assert sms is not None and sms.template == "payment_receipt" and sms.phone == SANDBOX_PHONE
    assert intent.receipt_code in sms.text


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (25001, FailureReason.CANCELLED),
        (25002, FailureReason.INSUFFICIENT_FUNDS),
        (25004, FailureReason.WRONG_PIN),
        (25005, FailureReason.OTHER),
    ],
)
def test_each_failure_is_recorded_and_explained_by_sms(
    payments: Payments, amount: int, reason: FailureReason
) -> None:
    result = payments.start(amount)
    assert result.intent is not None
    payments.work()
    intent = payments.intent(result.intent.id)
    assert (intent.status, intent.reason) == (IntentStatus.FAILED, reason)
    assert not payments.paid(intent.assessment_id)
    assert payments.civic_payments(intent.assessment_id) == []
    assert intent.receipt_code is None
    sms = payments.sms(f"payment-failed:{intent.id}")
    assert sms is not None and sms.template == f"payment_failed_{reason.value}"


def test_a_lost_callback_is_settled_by_reconciliation(payments: Payments) -> None:
    result = payments.start(25003)  # ...03: the sandbox never calls back
    assert result.intent is not None
    payments.work()
    assert payments.intent(result.intent.id).status is IntentStatus.PUSHED
    report = payments.service.reconcile(now=payments.later(120))
    assert report.counts == {"failed": 1}
    intent = payments.intent(result.intent.id)
    assert (intent.status, intent.reason) == (IntentStatus.FAILED, FailureReason.TIMEOUT)
    sms = payments.sms(f"payment-failed:{intent.id}")
    assert sms is not None and sms.template == "payment_failed_timeout"


def test_a_successful_payment_whose_callback_was_lost_is_recorded(payments: Payments) -> None:
    result = payments.start(30000)
    assert result.intent is not None
    payments.service.push(result.intent.id)  # pushed, but its callback job never runs
    payments.redis.delete(f"rq:queue:{keys.queue('payments')}")
    assert payments.service.reconcile(now=payments.later(120)).counts == {"waiting": 1}
    payments.sandbox.answer(result.intent.id)  # the customer paid; the callback was lost
    assert payments.intent(result.intent.id).status is IntentStatus.PUSHED
    assert payments.service.reconcile(now=payments.later(150)).counts == {}  # backoff: 60 s
    assert payments.service.reconcile(now=payments.later(181)).counts == {"succeeded": 1}
    intent = payments.intent(result.intent.id)
    assert intent.status is IntentStatus.SUCCEEDED and intent.settlement == "recorded"
    assert payments.paid(intent.assessment_id)


def test_an_intent_never_pushed_expires_at_its_deadline(payments: Payments) -> None:
    result = payments.start(25000)
    assert result.intent is not None
    payments.redis.delete(f"rq:queue:{keys.queue('payments')}")  # its push job is lost
    ttl = payments.service.config.intent_ttl_seconds
    assert payments.service.reconcile(now=payments.later(ttl + 1)).counts == {"expired": 1}
    intent = payments.intent(result.intent.id)
    assert (intent.status, intent.reason) == (IntentStatus.EXPIRED, FailureReason.TIMEOUT)
    assert payments.sandbox.pushes(intent.id) == 0
    sms = payments.sms(f"payment-failed:{intent.id}")
    assert sms is not None and sms.template == "payment_failed_timeout"


def test_a_lost_push_job_is_requeued_before_the_deadline(payments: Payments) -> None:
    result = payments.start(25000)
    assert result.intent is not None
    payments.redis.delete(f"rq:queue:{keys.queue('payments')}")
    assert payments.service.reconcile(now=payments.later(120)).counts == {"push_requeued": 1}
    payments.work()
    assert payments.intent(result.intent.id).status is IntentStatus.SUCCEEDED
    assert payments.sandbox.pushes(result.intent.id) == 1


def test_second_confirm_returns_the_same_intent_and_never_charges_twice(
    payments: Payments,
) -> None:
    assessment = payments.assessment(25000)
    first = payments.start(assessment, session="ATUid_one")
    same_session = payments.start(assessment, session="ATUid_one")
    other_session = payments.start(assessment, session="ATUid_two")
    assert first.outcome is StartOutcome.STARTED and first.intent is not None
    assert same_session.outcome is StartOutcome.ALREADY_PENDING
    assert other_session.outcome is StartOutcome.ALREADY_PENDING
    assert same_session.intent is not None and other_session.intent is not None
    assert same_session.intent.id == other_session.intent.id == first.intent.id
    payments.work()
    assert payments.sandbox.pushes(first.intent.id) == 1
    paid_assessment = payments.backend.get_assessment(assessment.id)
    assert paid_assessment is not None
    assert (
        payments.start(paid_assessment, session="ATUid_three").outcome is StartOutcome.ALREADY_PAID
    )


def test_a_push_job_that_crashed_after_its_claim_never_pushes_twice(payments: Payments) -> None:
    result = payments.start(25000)
    assert result.intent is not None
    intent_id = result.intent.id
    payments.redis.delete(f"rq:queue:{keys.queue('payments')}")
    # A worker claimed it and died before the call.
    assert payments.store.intents.claim_push(intent_id)
    payments.service.push(intent_id)  # rq's retry, right away: someone may still be pushing
    assert payments.sandbox.pushes(intent_id) == 0
    assert payments.intent(intent_id).status is IntentStatus.PUSHING
    # Later, reconciliation asks the provider: it never saw the intent, so one push is safe.
    assert payments.service.reconcile(now=payments.later(120)).counts == {"push_requeued": 1}
    payments.work()
    payments.service.push(intent_id)  # a late duplicate of the job changes nothing
    assert payments.sandbox.pushes(intent_id) == 1
    assert payments.intent(intent_id).status is IntentStatus.SUCCEEDED


def test_push_jobs_run_twice_push_once(payments: Payments) -> None:
    result = payments.start(25003)  # no callback, so the intent stays pushed
    assert result.intent is not None
    payments.work()
    payments.service.push(result.intent.id)
    payments.service.schedule_push(result.intent.id, delay_seconds=0)
    payments.work()
    assert payments.sandbox.pushes(result.intent.id) == 1
