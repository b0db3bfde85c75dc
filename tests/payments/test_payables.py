"""A pupil's school fees paid on USSD through the same flow as taxes: lookup, confirm, push,
callback, record with the back office, receipt SMS, and every receipt check saying what was
paid ("Frais scolaires T1 2026-27"). Failure paths: unknown pupil, already paid, twin confirm."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import sqlalchemy as sa

from civic.sql import payable_payments
from payments.model import IntentStatus, PaymentKind
from payments.service import PAYABLE_SUBJECT
from sms.providers.console import read_outbox
from tests.conftest import UssdPhone
from tests.payments.conftest import SANDBOX_PHONE, Payments
from tests.payments.test_api_receipts import _schema
from tests.payments.test_receipts_found_again import fresh, run_sms, text_in

AGENT = {"Authorization": "Bearer demo-agent-key"}
PUPIL = "200001"  # seeded: 47 500 CDF, Institut Umoja, due 20/12/2026 (cities/<id>/catalogue.yaml)
PUPIL_ID = "school_fees-T1202627-200001"
WHAT = "Frais scolaires T1 2026-27"


def _confirm(ussd: UssdPhone, pupil: str = PUPIL) -> Any:
    """Dial, choose school fees, type the student number, pay with Airtel (the sandbox)."""
    fresh(ussd)
    kinds = ussd.type("1")
    assert not kinds.end and "5. Frais scolaires" in kinds.body, kinds.body
    asked = ussd.type("5")
    assert not asked.end and "numéro d'élève" in asked.body, asked.body
    shown = ussd.type(pupil)
    assert not shown.end, shown.body
    ussd.type("1")  # pay
    return ussd.type("2")  # Airtel Money: the sandbox provider


def _civic_payments(payments: Payments, payable_id: str) -> list[Any]:
    backend = payments.backend
    with backend.engine.connect() as conn:
        rows = conn.execute(
            sa.select(payable_payments).where(payable_payments.c.payable_id == payable_id)
        ).all()
    backend.dispose()
    return list(rows)


def test_a_pupils_fees_are_shown_paid_receipted_and_every_check_says_what_was_paid(
    payments: Payments, ussd: UssdPhone
) -> None:
    fresh(ussd)
    ussd.type("1", "5")
    shown = ussd.type(PUPIL)
    assert WHAT in shown.body and "Institut Umoja, 5e A" in shown.body
    assert "47 500 CDF" in shown.body and "20/12/2026" in shown.body
    done = _confirm(ussd)
    assert done.end and "Airtel Money" in done.body and "47 500 CDF" in done.body
    assert f"réf. {PUPIL}" in done.body
    intent = payments.store.intents.active_for_assessment(PAYABLE_SUBJECT.format(PUPIL_ID))
    assert intent is not None
    assert (intent.kind, intent.amount, intent.assessment_reference, intent.tax_code) == (
        PaymentKind.PAYABLE,
        47500,
        PUPIL,
        PUPIL_ID,
    )
    payments.work()  # push, sandbox callback, settlement
    paid = payments.intent(intent.id)
    assert paid.status is IntentStatus.SUCCEEDED and paid.receipt_code
    code = paid.receipt_code
    payable = payments.backend.get_payable(PUPIL_ID)
    assert payable is not None and payable.paid and payable.receipt_code == code
    assert len(_civic_payments(payments, PUPIL_ID)) == 1
    # The receipt SMS, as the phone received it.
    run_sms(payments)
    received = [e.text for e in read_outbox(payments.redis, phone=SANDBOX_PHONE, limit=50)]
    receipt = next(text for text in received if code in text)
    assert WHAT in receipt and f"réf {PUPIL}" in receipt and "47 500 CDF" in receipt
    # SMS RECU <code> names it.
    reply = text_in(payments, f"RECU {code}", "recu-school")
    assert reply.startswith(f"Guichet: code {code} VALIDE: 47500 CDF, {WHAT}"), reply
    # USSD: verify (menu 5) and My payments (menu 6).
    fresh(ussd)
    ussd.type("5")
    checked = ussd.type(code)
    assert checked.end and f"47 500 CDF, {WHAT}, réf. {PUPIL}" in checked.body, checked.body
    fresh(ussd)
    mine = ussd.type("6")
    line = next(ln for ln in mine.body.splitlines() if "47 500" in ln)
    assert "Frais scolaires" in line
    opened = ussd.type(line.split(".")[0])
    assert opened.body.startswith(WHAT) and code in opened.body
    # The agents' API says it in every language.
    body = payments.app.test_client().get(f"/api/v1/receipts/{code}", headers=AGENT).get_json()
    jsonschema.validate(body, _schema("ValidReceipt"))  # docs/openapi/receipts.yaml
    assert (body["kind"], body["tax"], body["reference"]) == ("payable", PUPIL_ID, PUPIL)
    assert body["what"] == {
        "fr": WHAT,
        "en": "School fees T1 2026-27",
        "sw": "Ada ya shule T1 2026-27",
    }
    # Paid now: looking the pupil up again shows the receipt code, and moves no money.
    fresh(ussd)
    ussd.type("1", "5")
    again = ussd.type(PUPIL)
    assert again.end and "déjà payé" in again.body and code in again.body, again.body
    assert payments.sandbox.pushes(intent.id) == 1


def test_an_unknown_or_mistyped_student_number_is_not_found_and_may_be_typed_again(
    payments: Payments, ussd: UssdPhone
) -> None:
    for typed in ("299999", "20001", "2000011"):  # no such pupil; the kind's pattern is 6 digits
        fresh(ussd)
        ussd.type("1", "5")
        screen = ussd.type(typed)
        assert not screen.end and f"numéro d'élève {typed} introuvable" in screen.body
        retry = ussd.type("1")
        assert not retry.end and "numéro d'élève" in retry.body
    assert payments.store.intents.active_for_assessment(PAYABLE_SUBJECT.format(PUPIL_ID)) is None


def test_fees_paid_at_the_school_say_paid_without_a_code(
    payments: Payments, ussd: UssdPhone
) -> None:
    fresh(ussd)
    ussd.type("1", "5")
    screen = ussd.type("200010")  # seeded as paid (paid_every: 10)
    assert screen.end and "déjà payé. Merci!" in screen.body and "Quittance" not in screen.body


def test_a_twin_confirm_and_a_second_settle_move_money_once(
    payments: Payments, ussd: UssdPhone
) -> None:
    pupil, payable_id = "200002", "school_fees-T1202627-200002"
    first = _confirm(ussd, pupil)
    assert first.end and "Vous allez recevoir" in first.body
    twin = _confirm(ussd, pupil)  # another session, before the push ran
    assert twin.end and "déjà en cours" in twin.body
    payments.work()
    settled = payments.store.intents.succeeded_for_assessment(PAYABLE_SUBJECT.format(payable_id))
    assert settled is not None and payments.sandbox.pushes(settled.id) == 1
    payments.service.settle(settled.id)  # a retried settlement records nothing twice
    assert len(_civic_payments(payments, payable_id)) == 1
    fresh(ussd)  # looked up again once paid: the code, no payment screen
    ussd.type("1", "5")
    after = ussd.type(pupil)
    assert after.end and settled.receipt_code and settled.receipt_code in after.body


def test_the_licence_renewal_is_another_kind_of_the_same_journey(
    payments: Payments, ussd: UssdPhone
) -> None:
    fresh(ussd)
    kinds = ussd.type("1")
    licence = next(ln.split(".")[0] for ln in kinds.body.splitlines() if "Licence de" in ln)
    asked = ussd.type(licence)
    assert "numéro de licence" in asked.body
    shown = ussd.type("300001")
    assert "Licence commerce 2027" in shown.body and "65 000 CDF" in shown.body
    assert re.search(r"Échéance: 31/01/2027", shown.body), shown.body
