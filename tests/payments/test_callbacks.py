"""POST /payments/<provider>/callback: token, limits, unknown and mismatched callbacks."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient

from payments.model import IntentStatus
from payments.receipts import ReceiptVerifier, VerificationStatus
from tests.payments.conftest import CALLBACK_TOKEN, SANDBOX_PHONE, Payments

URL = f"/payments/sandbox/callback?token={CALLBACK_TOKEN}"


def pushed(payments: Payments, amount: int = 25003) -> str:
    """Return an intent pushed to the sandbox whose own callback never comes (...03)."""
    result = payments.start(amount)
    assert result.intent is not None
    payments.work()
    assert payments.intent(result.intent.id).status is IntentStatus.PUSHED
    return result.intent.id


def body(payments: Payments, which: str, **changes: Any) -> str:
    intent = payments.intent(which)
    payload = {
        "intent_id": intent.id,
        "reference": intent.provider_reference,
        "status": "succeeded",
        "reason": None,
        "amount": intent.amount,
        "phone": intent.phone,
        "transaction_id": "TX1",
        **changes,
    }
    return json.dumps(payload)


def post(client: FlaskClient, data: str | bytes, url: str = URL) -> int:
    response = client.post(url, data=data, content_type="application/json")
    assert response.is_json
    return response.status_code


def test_a_wrong_or_missing_token_is_refused(payments: Payments, client: FlaskClient) -> None:
    intent_id = pushed(payments)
    data = body(payments, intent_id)
    assert post(client, data, "/payments/sandbox/callback?token=nope") == 403
    assert post(client, data, "/payments/sandbox/callback") == 403
    payments.work()
    assert payments.intent(intent_id).status is IntentStatus.PUSHED


def test_unknown_provider_empty_and_huge_bodies(payments: Payments, client: FlaskClient) -> None:
    assert post(client, "{}", f"/payments/nobody/callback?token={CALLBACK_TOKEN}") == 404
    assert post(client, b"") == 400
    assert post(client, b"x" * (64 * 1024 + 1)) == 413


def test_a_callback_for_an_unknown_intent_goes_to_review(
    payments: Payments, client: FlaskClient
) -> None:
    intent_id = pushed(payments)
    assert post(client, body(payments, intent_id, intent_id="f" * 32)) == 200
    payments.work()
    [review] = payments.store.reviews.list_reviews()
    assert review.reason == "unknown_intent"
    assert payments.intent(intent_id).status is IntentStatus.PUSHED


def test_amount_mismatch_is_reviewed_never_credited(
    payments: Payments, client: FlaskClient
) -> None:
    intent_id = pushed(payments)
    assert post(client, body(payments, intent_id, amount=1)) == 200
    payments.work()
    [review] = payments.store.reviews.list_reviews()
    assert (review.reason, review.intent_id) == ("amount_mismatch", intent_id)
    intent = payments.intent(intent_id)
    assert intent.status is IntentStatus.PUSHED
    assert not payments.paid(intent.assessment_id)


def test_phone_mismatch_is_reviewed_never_credited(payments: Payments, client: FlaskClient) -> None:
    intent_id = pushed(payments)
    assert post(client, body(payments, intent_id, phone="+243899999999")) == 200
    payments.work()
    [review] = payments.store.reviews.list_reviews()
    assert review.reason == "phone_mismatch"
    assert not payments.paid(payments.intent(intent_id).assessment_id)


def test_a_success_the_status_query_contradicts_is_reviewed(
    payments: Payments, client: FlaskClient
) -> None:
    # ...03 is a timeout for the sandbox's status query: a forged "success" must not pay.
    intent_id = pushed(payments)
    assert post(client, body(payments, intent_id)) == 200
    payments.work()
    [review] = payments.store.reviews.list_reviews()
    assert review.reason == "contradicted_by_status_query"
    assert not payments.paid(payments.intent(intent_id).assessment_id)


def test_garbage_is_stored_answered_and_reviewed(payments: Payments, client: FlaskClient) -> None:
    assert post(client, b"<xml>not json</xml>") == 200
    payments.work()
    [review] = payments.store.reviews.list_reviews()
    assert review.reason == "unparseable"


def test_retried_callbacks_are_processed_once(payments: Payments, client: FlaskClient) -> None:
    result = payments.start(26000)
    assert result.intent is not None
    intent_id = result.intent.id
    payments.work()
    intent = payments.intent(intent_id)
    assert intent.status is IntentStatus.SUCCEEDED  # the sandbox's own callback did it
    data = body(payments, intent_id, transaction_id=payments.sandbox.receipt(intent))
    for _ in range(3):
        assert post(client, data) == 200
    payments.work()
    assert payments.store.receipts.count_receipts() == 1
    assert len(payments.civic_payments(intent.assessment_id)) == 1
    assert intent.receipt_code is not None
    verifier = payments.app.extensions["guichet"].get(ReceiptVerifier)
    assert verifier.verify(intent.receipt_code).status is VerificationStatus.VALID
    assert payments.intent(intent_id).phone == SANDBOX_PHONE


def test_a_deeply_nested_stored_callback_is_reviewed_not_a_crash(payments: Payments) -> None:
    # The edge refuses such a body (400); one stored all the same must still reach a human.
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    payments.service.accept_callback("sandbox", deep, None)
    payments.work()
    [review] = payments.store.reviews.list_reviews()
    assert review.reason == "unparseable"
