"""The citizen's side: pay from the USSD menu, then verify the receipt from the USSD menu."""

from __future__ import annotations

from payments.model import IntentStatus
from payments.receipts import normalize
from tests.conftest import UssdPhone
from tests.payments.conftest import SANDBOX_PHONE, Payments

REF = "100001"  # demo city: road tax, 26 500 CDF, unpaid


def assessment_id(payments: Payments) -> str:
    found = payments.backend.find_assessment("road", REF)
    assert found is not None
    return found.id


def test_pay_then_verify_the_receipt_over_ussd(payments: Payments, ussd: UssdPhone) -> None:
    ussd.dial(SANDBOX_PHONE)
    ussd.type("1", "1", REF)  # pay a tax -> road tax -> reference
    screen = ussd.type("1")  # Pay
    assert not screen.end and "26 500" in screen.body and "Airtel Money" in screen.body
    screen = ussd.type("2")  # Airtel Money (sandbox)
    assert screen.end, screen.body
    assert "Airtel Money" in screen.body and REF in screen.body
    assert "PIN" not in screen.body.upper() and "code secret" not in screen.body
    payments.work()  # the push Effect, the sandbox callback, its processing
    intent = payments.store.intents.succeeded_for_assessment(assessment_id(payments))
    assert intent is not None and intent.status is IntentStatus.SUCCEEDED
    assert intent.receipt_code is not None
    assert payments.sandbox.pushes(intent.id) == 1

    # A second confirm from a new session: already paid, no second intent.
    ussd.dial(SANDBOX_PHONE)
    ussd.type("1", "1", REF)
    assert ussd.last is not None and ussd.last.end  # civic: already paid

    ussd.dial()
    ussd.type("5")
    screen = ussd.type(normalize(intent.receipt_code) or "")
    assert screen.end and "VALIDE" in screen.body and "26 500" in screen.body and REF in screen.body

    digits = normalize(intent.receipt_code) or ""
    swapped = (
        digits[1] + digits[0] + digits[2:]
        if digits[0] != digits[1]
        else digits[:-1] + str((int(digits[-1]) + 1) % 10)
    )
    ussd.dial()
    ussd.type("5")
    screen = ussd.type(swapped)
    assert not screen.end and "mal saisi" in screen.body


def test_a_second_confirm_while_pending_gets_the_same_intent(
    payments: Payments, ussd: UssdPhone
) -> None:
    ussd.dial(SANDBOX_PHONE)
    ussd.type("1", "1", REF, "1")
    assert ussd.type("2").end
    ussd.dial(SANDBOX_PHONE)
    ussd.type("1", "1", REF, "1")
    screen = ussd.type("2")
    assert screen.end and "déjà en cours" in screen.body
    payments.work()
    intent = payments.store.intents.succeeded_for_assessment(assessment_id(payments))
    assert intent is not None and payments.sandbox.pushes(intent.id) == 1
    assert len(payments.civic_payments(intent.assessment_id)) == 1
