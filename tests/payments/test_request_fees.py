"""A document's fee paid inside the request journey: USSD, sandbox push, callback, receipt, agent.

The same intents, providers, callbacks, reconciliation and receipts as taxes, with the kind
request_fee; unpaid requests expire after REQUEST_PAYMENT_TTL (a controlled clock here).
"""

from __future__ import annotations

import re
import uuid

from civic.ports import FeeStatus, HistoryEvent, RequestStatus
from payments.model import FailureReason, IntentStatus, PaymentKind
from payments.receipts import ReceiptVerifier, VerificationStatus
from payments.service import FEE_SUBJECT
from tests.conftest import UssdPhone
from tests.payments.conftest import SANDBOX_PHONE, Payments

AGENT = {"Authorization": "Bearer demo-agent-key"}
BIRTH = {
    "child_name": "Neema Kahindo",
    "birth_date": "14/02/2019",
    "birth_place": "Goma",
    "mother_name": "Furaha Kahindo",
}
TTL = 86400.0  # REQUEST_PAYMENT_TTL's default


def _file_and_pay_birth(ussd: UssdPhone) -> str:
    """File a birth certificate over USSD and choose Airtel Money (sandbox); return its ref."""
    ussd.dial(SANDBOX_PHONE)
    docs = ussd.type("2")
    birth = next(ln.split(".")[0] for ln in docs.body.splitlines() if "naissance" in ln)
    ussd.type(birth, "1", "Neema Kahindo", "14/02/2019", "Goma", "97", "Furaha Kahindo")
    ussd.type("1")  # the summary is right
    operators = ussd.type("1")  # confirm
    assert "Airtel Money" in operators.body
    done = ussd.type("2")  # Airtel Money: the sandbox provider
    assert done.end and "Airtel Money" in done.body and "5 000 CDF" in done.body
    found = re.search(r"Demande (\d{8}) enregistrée", done.body)
    assert found is not None
    return found.group(1)


def test_a_birth_certificate_is_filed_paid_receipted_and_seen_by_the_agent(
    payments: Payments, ussd: UssdPhone
) -> None:
    ref = _file_and_pay_birth(ussd)
    waiting = payments.backend.get_request(ref)
    assert waiting is not None and waiting.status is RequestStatus.AWAITING_PAYMENT
    intent = payments.store.intents.active_for_assessment(FEE_SUBJECT.format(ref))
    assert intent is not None
    assert (intent.kind, intent.amount, intent.assessment_reference, intent.tax_code) == (
        PaymentKind.REQUEST_FEE,
        5000,
        ref,
        "birth",
    )
    payments.work()  # the push, the sandbox's callback, its processing, the settlement
    paid = payments.intent(intent.id)
    assert paid.status is IntentStatus.SUCCEEDED and paid.receipt_code
    assert payments.sandbox.pushes(intent.id) == 1
    request = payments.backend.get_request(ref)
    assert request is not None
    assert (request.status, request.fee_status) == (RequestStatus.SUBMITTED, FeeStatus.PAID)
    assert request.fee_receipt == paid.receipt_code
    assert request.history[-1].event is HistoryEvent.FEE_PAID
    assert dict(request.dossier) == BIRTH
    # The receipt SMS names the request: its reference and the document.
    sms = payments.sms(f"payment-receipt:{intent.id}")
    assert sms is not None and sms.template == "request_fee_receipt"
    assert ref in sms.text and "Extrait d'acte de naissance" in sms.text
    assert paid.receipt_code in sms.text
    # Anyone can check the code; it says what was paid.
    verifier = payments.app.extensions["guichet"].get(ReceiptVerifier)
    checked = verifier.verify(paid.receipt_code)
    assert checked.status is VerificationStatus.VALID
    assert (checked.kind, checked.reference, checked.tax, checked.amount) == (
        "request_fee",
        ref,
        "birth",
        5000,
    )
    # The agent sees the dossier and the fee.
    api = payments.app.test_client()
    body = api.get(f"/api/v1/requests/{ref}", headers=AGENT).get_json()
    assert body["dossier"] == BIRTH
    assert body["fee"] == {
        "amount": 5000,
        "currency": "CDF",
        "status": "paid",
        "receipt_code": paid.receipt_code,
    }
    assert "in_review" in body["allowed_decisions"]
    # Paying again from a new session moves no money: the fee is settled.
    ussd.dial(SANDBOX_PHONE)
    ussd.type("3", "1")
    shown = ussd.type(ref)
    assert not shown.end and "en attente d'examen" in shown.body


def test_the_fee_receipt_of_a_document_that_needs_a_visit_announces_it(
    payments: Payments, ussd: UssdPhone
) -> None:
    ussd.dial(SANDBOX_PHONE)
    docs = ussd.type("2")
    residence = next(ln.split(".")[0] for ln in docs.body.splitlines() if "résidence" in ln)
    ussd.type(residence, "1", "1")  # the fee, then what to bring to the counter
    ussd.type("Neema Bahati", "CD-778899")  # identity: this phone is not a known citizen
    ussd.type("Himbi", "Avenue du Lac 12", "1", "1")  # dossier, summary, confirm
    done = ussd.type("2")  # Airtel Money: the sandbox provider
    found = re.search(r"Demande (\d{8}) enregistrée", done.body)
    assert found is not None, done.body
    intent = payments.store.intents.active_for_assessment(FEE_SUBJECT.format(found.group(1)))
    assert intent is not None
    payments.work()
    request = payments.backend.get_request(found.group(1))
    assert request is not None and request.fee_status is FeeStatus.PAID
    receipt = payments.sms(f"payment-receipt:{intent.id}")
    assert receipt is not None and receipt.template == "request_fee_receipt_visit"
    # A document without a visit gets the plain receipt (the test above files a birth).
    assert payments.sms(f"payment-receipt:{intent.id}x") is None


def test_one_active_intent_per_request_whatever_the_session(
    payments: Payments, ussd: UssdPhone
) -> None:
    ref = _file_and_pay_birth(ussd)
    ussd.dial(SANDBOX_PHONE)
    ussd.type("3", "1", ref)
    ussd.type("1")  # pay
    twin = ussd.type("2")
    assert twin.end and "déjà en cours" in twin.body
    payments.work()
    settled = payments.store.intents.succeeded_for_assessment(FEE_SUBJECT.format(ref))
    assert settled is not None and payments.sandbox.pushes(settled.id) == 1
    request = payments.backend.get_request(ref)
    assert request is not None and request.fee_status is FeeStatus.PAID
    assert [c.event for c in request.history].count(HistoryEvent.FEE_PAID) == 1


def test_a_failed_fee_payment_leaves_the_request_waiting_and_says_so(
    payments: Payments, ussd: UssdPhone
) -> None:
    ref = _file_and_pay_birth(ussd)
    intent = payments.store.intents.active_for_assessment(FEE_SUBJECT.format(ref))
    assert intent is not None
    assert payments.store.intents.mark_failed(intent.id, FailureReason.CANCELLED)
    payments.service.reconcile(payments.later(1))  # nothing to do for it any more
    request = payments.backend.get_request(ref)
    assert request is not None and request.status is RequestStatus.AWAITING_PAYMENT
    # The citizen pays again from "track a request": a new intent, the same request.
    ussd.dial(SANDBOX_PHONE)
    ussd.type("3", "1", ref, "1")
    again = ussd.type("2")
    assert again.end and ref in again.body
    payments.work()
    request = payments.backend.get_request(ref)
    assert request is not None and request.status is RequestStatus.SUBMITTED


def test_unpaid_requests_expire_after_the_ttl_with_an_sms(payments: Payments) -> None:
    backend = payments.backend
    unpaid = backend.create_request(
        owner_phone=SANDBOX_PHONE,
        document_code="birth",
        idempotency_key=f"t-{uuid.uuid4().hex}",
        dossier=BIRTH,
        collect_fee=True,
    )
    paying = backend.create_request(
        owner_phone=SANDBOX_PHONE,
        document_code="birth",
        idempotency_key=f"t-{uuid.uuid4().hex}",
        dossier=BIRTH,
        collect_fee=True,
    )
    started = payments.service.start_fee(
        session_id="s-expiry", request=paying, phone=SANDBOX_PHONE, operator="airtel", lang="fr"
    )
    assert started.intent is not None and started.intent.active
    # Before the TTL nothing expires.
    early = payments.service.expire_unpaid_requests(payments.later(TTL - 60))
    assert "request_expired" not in early
    still = backend.get_request(unpaid.reference)
    assert still is not None and still.status is RequestStatus.AWAITING_PAYMENT
    # After it, the unpaid one expires with an SMS; the one whose payment is in flight waits.
    late = payments.service.expire_unpaid_requests(payments.later(TTL + 60))
    assert late.count("request_expired") >= 1 and "request_paying" in late
    expired = backend.get_request(unpaid.reference)
    assert expired is not None and expired.status is RequestStatus.EXPIRED
    in_flight = backend.get_request(paying.reference)
    assert in_flight is not None and in_flight.status is RequestStatus.AWAITING_PAYMENT
    sms = payments.sms(f"request:{unpaid.reference}:2")
    assert sms is not None and sms.template == "request_expired"
    assert unpaid.reference in sms.text
    # The periodic reconciliation pass: the stale intent expires, then its request does.
    report = payments.service.reconcile(payments.later(TTL + 120))
    assert report.counts.get("request_expired", 0) >= 1
    gone = backend.get_request(paying.reference)
    assert gone is not None and gone.status is RequestStatus.EXPIRED
    # Running the pass again sends nothing more.
    payments.service.reconcile(payments.later(TTL + 180))
    assert payments.sms(f"request:{unpaid.reference}:3") is None
