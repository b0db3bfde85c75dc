"""The provider contract: every mobile-money provider passes every test here, through its fake.

Each test runs once per harness module in `harnesses/`. To put a new provider under the
contract, add ONE module `harnesses/<provider>.py` and nothing else:

    class VodacomHarness(Harness):          # tests/payments/contract/harness.py
        provider = "vodacom"                 # its name in PAYMENT_OPERATORS
        operator = "mpesa"                   # the operator key citizens choose
        phone = "+243810000001"              # a citizen on that operator
        failures = {"INS-5 cancelled": FailureReason.CANCELLED, ...}  # every documented one
        def start/stop(self): ...            # run its fake (fakes/<provider>.py) on 127.0.0.1
        def settings(self): ...              # Settings fields pointing the adapter at the fake
        def script(self, outcome): ...       # SUCCESS, AMBIGUOUS or a `failures` key -> amount
        def answer(self, payments, deliver=True): ...   # the customer answers; callbacks sent
        def replay / forged / prompts / resolve: ...    # duplicate, forged, count, settle TA
    HARNESS = VodacomHarness

A provider whose failures come without a callback (timeouts, expiry) lists them too: the suite
reconciles whatever is still open. Providers must not be special-cased in this file; what a
provider's API cannot do is declared by its harness, as one of these capabilities:

    currency = "XOF"                 # the city's currency (default CDF): assessments are in it
    pays_by_link = True              # web payment (Orange): the citizen gets the page by SMS
                                     # instead of a USSD prompt; checked on every push
    answered_in_push = frozenset({SUCCESS, "INS-5 cancelled", ...})
        # a push that blocks until the customer answers (Vodacom C2B): these outcomes end in
        # the push job, by the answer to our own request, with no callback (checked: the
        # intent is final when the push returns). With SUCCESS among them, every step that
        # needs a payment still open after the push (lost, duplicated and forged callbacks, a
        # retried push) runs on LATE_SUCCESS instead: the prompt outlived the push request
        # (INS-9) and the customer paid afterwards, told by the provider's async result. The
        # forged-success step takes the first failure that is not answered in the push.

What is checked: push -> callback -> status confirmation -> receipt SMS; each documented failure
-> its citizen SMS; a lost callback -> reconciliation; a duplicate callback -> one receipt; a
retried push -> one prompt; a forged callback of either outcome -> nothing moves; an ambiguous
answer -> the intent stays open, polled with backoff, and a second payment waits.
"""

from __future__ import annotations

import pytest

from payments.model import FailureReason, Intent, IntentStatus
from payments.receipts import ReceiptVerifier, VerificationStatus
from payments.service import StartOutcome
from runtime.masking import mask_phone
from tests.payments.conftest import Payments
from tests.payments.contract.conftest import HARNESSES
from tests.payments.contract.harness import AMBIGUOUS, LATE_SUCCESS, SUCCESS, Harness

LATER = 120.0  # seconds: past PAYMENT_RECONCILE_AFTER_SECONDS


def pushed(payments: Payments, harness: Harness, outcome: str) -> Intent:
    """Confirm a payment scripted to end as `outcome` and run its push job."""
    assessment = payments.assessment(harness.script(outcome), currency=harness.currency)
    result = payments.start(assessment, operator=harness.operator, phone=harness.phone)
    assert result.outcome is StartOutcome.STARTED and result.intent is not None
    payments.service.push(result.intent.id)  # the push job's body, as the worker runs it
    intent = payments.intent(result.intent.id)
    if outcome in harness.answered_in_push:  # the push's own answer ended it: no callback
        assert not intent.active, intent
    else:
        assert intent.status is IntentStatus.PUSHED, intent
        link = payments.sms(f"payment-link:{intent.id}")
        assert (link is not None) is harness.pays_by_link, link
        assert link is None or (link.template, link.phone) == ("payment_link", intent.phone)
    assert payments.service.pays_by_link(harness.operator) is harness.pays_by_link
    assert harness.prompts(payments, intent) == 1
    return intent


def answered_later(harness: Harness) -> str:
    """Return the success whose customer answers after the push request returned."""
    return LATE_SUCCESS if SUCCESS in harness.answered_in_push else SUCCESS


def assert_paid_once(payments: Payments, intent_id: str) -> Intent:
    intent = payments.intent(intent_id)
    assert intent.status is IntentStatus.SUCCEEDED and intent.settlement == "recorded"
    assert payments.paid(intent.assessment_id)
    assert len(payments.civic_payments(intent.assessment_id)) == 1
    assert intent.receipt_code is not None
    verifier = payments.app.extensions["guichet"].get(ReceiptVerifier)
    assert verifier.verify(intent.receipt_code).status is VerificationStatus.VALID
    sms = payments.sms(f"payment-receipt:{intent.id}")
    assert sms is not None and sms.template == "payment_receipt"
    # The message log keeps no full number nor text once sent: its masked number and params.
    assert sms.phone_masked == mask_phone(intent.phone)
    assert sms.params["receipt_code"] == intent.receipt_code
    return intent


def assert_untouched(payments: Payments, intent: Intent) -> None:
    now = payments.intent(intent.id)
    assert now.status is IntentStatus.PUSHED and now.reason is None
    assert not payments.paid(intent.assessment_id)
    assert payments.sms(f"payment-failed:{intent.id}") is None
    assert payments.sms(f"payment-receipt:{intent.id}") is None


def post(payments: Payments, path: str, body: str) -> None:
    response = payments.app.test_client().post(path, data=body, content_type="application/json")
    assert response.status_code == 200


def test_every_provider_has_a_harness() -> None:
    every_adapter = {"sandbox", "daraja", "airtel", "vodacom", "paygate", "orange"}  # wiring.py
    assert {h.provider for h in HARNESSES} >= every_adapter


def test_push_callback_confirmation_receipt(payments: Payments, harness: Harness) -> None:
    intent = pushed(payments, harness, SUCCESS)
    harness.answer(payments)
    payments.work()
    assert_paid_once(payments, intent.id)
    assert harness.prompts(payments, intent) == 1


def test_each_documented_failure_sends_its_sms(payments: Payments, harness: Harness) -> None:
    assert harness.failures, "a provider documents at least one failure"
    for failure, reason in harness.failures.items():
        intent = pushed(payments, harness, failure)
        harness.answer(payments)
        payments.work()
        if payments.intent(intent.id).active:  # no callback for this one: reconciliation
            payments.service.reconcile(now=payments.later(LATER))
        ended = payments.intent(intent.id)
        assert (ended.status, ended.reason) == (IntentStatus.FAILED, reason), failure
        assert not payments.paid(intent.assessment_id) and ended.receipt_code is None
        sms = payments.sms(f"payment-failed:{intent.id}")
        assert sms is not None and sms.template == f"payment_failed_{reason.value}", failure


def test_a_lost_callback_is_settled_by_reconciliation(payments: Payments, harness: Harness) -> None:
    intent = pushed(payments, harness, answered_later(harness))
    harness.answer(payments, deliver=False)
    payments.work()
    assert payments.intent(intent.id).status is IntentStatus.PUSHED
    assert payments.service.reconcile(now=payments.later(LATER)).counts == {"succeeded": 1}
    assert_paid_once(payments, intent.id)


def test_a_duplicated_callback_gives_one_receipt(payments: Payments, harness: Harness) -> None:
    intent = pushed(payments, harness, answered_later(harness))
    harness.answer(payments)
    payments.work()
    harness.replay(payments, intent)
    harness.replay(payments, intent)
    payments.work()
    assert_paid_once(payments, intent.id)
    assert payments.store.receipts.count_receipts() == 1
    assert payments.store.reviews.list_reviews() == []


def test_a_retried_push_never_charges_twice(payments: Payments, harness: Harness) -> None:
    intent = pushed(payments, harness, answered_later(harness))
    payments.service.push(intent.id)  # rq retrying the job
    payments.service.schedule_push(intent.id, delay_seconds=0)
    payments.service.reconcile(now=payments.later(LATER))
    harness.answer(payments)
    payments.work()
    assert harness.prompts(payments, intent) == 1
    assert_paid_once(payments, intent.id)


@pytest.mark.parametrize("succeeded", [True, False], ids=["forged-success", "forged-failure"])
def test_a_forged_callback_changes_nothing_while_the_customer_has_not_answered(
    payments: Payments, harness: Harness, succeeded: bool
) -> None:
    intent = pushed(payments, harness, answered_later(harness))
    post(payments, *harness.forged(intent, succeeded=succeeded))
    payments.work()
    assert_untouched(payments, intent)
    # The real answer still goes through afterwards.
    harness.answer(payments)
    payments.work()
    assert_paid_once(payments, intent.id)


def test_a_forged_success_the_provider_contradicts_goes_to_review(
    payments: Payments, harness: Harness
) -> None:
    later = [(f, r) for f, r in harness.failures.items() if f not in harness.answered_in_push]
    assert later, "a provider documents a failure its customer gives after the push"
    failure, reason = later[0]
    intent = pushed(payments, harness, failure)
    harness.answer(payments, deliver=False)  # it failed; its own callback is lost
    post(payments, *harness.forged(intent, succeeded=True))
    payments.work()
    assert_untouched(payments, intent)
    [review] = payments.store.reviews.list_reviews()
    assert (review.reason, review.intent_id) == ("contradicted_by_status_query", intent.id)
    payments.service.reconcile(now=payments.later(LATER))  # the provider's word settles it
    ended = payments.intent(intent.id)
    assert (ended.status, ended.reason) == (IntentStatus.FAILED, reason)


def test_a_forged_failure_the_provider_contradicts_goes_to_review(
    payments: Payments, harness: Harness
) -> None:
    intent = pushed(payments, harness, answered_later(harness))
    harness.answer(payments, deliver=False)  # it succeeded; its own callback is lost
    post(payments, *harness.forged(intent, succeeded=False))
    payments.work()
    assert_untouched(payments, intent)
    [review] = payments.store.reviews.list_reviews()
    assert (review.reason, review.intent_id) == ("contradicted_by_status_query", intent.id)
    payments.service.reconcile(now=payments.later(LATER))
    assert_paid_once(payments, intent.id)


def test_an_ambiguous_payment_stays_open_polled_with_backoff_and_blocks_a_second(
    payments: Payments, harness: Harness
) -> None:
    intent = pushed(payments, harness, AMBIGUOUS)
    harness.answer(payments)
    payments.work()
    service = payments.service
    assert service.reconcile(now=payments.later(LATER)).counts == {"waiting": 1}
    # Backoff: the next question comes later and later (60 s, then 120 s, ...).
    assert service.reconcile(now=payments.later(LATER + 30)).counts == {}
    assert service.reconcile(now=payments.later(LATER + 61)).counts == {"waiting": 1}
    assert service.reconcile(now=payments.later(LATER + 61 + 100)).counts == {}
    ttl = service.config.intent_ttl_seconds
    assert service.reconcile(now=payments.later(ttl + 3600)).counts == {"unresolved": 1}
    assert_untouched(payments, intent)  # never expired: the money may still move
    [review] = payments.store.reviews.list_reviews()
    assert (review.reason, review.intent_id) == ("unresolved_after_deadline", intent.id)
    again = payments.start(
        payments.backend.get_assessment(intent.assessment_id) or intent.assessment_id,
        operator=harness.operator,
        phone=harness.phone,
        session="ATUid_second_try",
    )
    assert again.outcome is StartOutcome.ALREADY_PENDING  # "a payment is already in progress"
    assert again.intent is not None and again.intent.id == intent.id
    payments.work()
    assert harness.prompts(payments, intent) == 1
    harness.resolve(payments, intent)
    assert service.reconcile(now=payments.later(ttl + 3 * 3600)).counts == {"succeeded": 1}
    assert_paid_once(payments, intent.id)
    assert payments.sms(f"payment-failed:{intent.id}") is None


def test_failure_reasons_have_templates(harness: Harness) -> None:
    assert set(harness.failures.values()) <= set(FailureReason)


def test_capabilities_name_real_outcomes(harness: Harness) -> None:
    assert harness.answered_in_push <= {SUCCESS, *harness.failures}
