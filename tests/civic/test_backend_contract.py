"""One contract for every Backend adapter: SQLite, PostgreSQL and the HTTP portal client."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from civic import references
from civic.ports import (
    Backend,
    Citizen,
    Decision,
    DossierError,
    FeePayment,
    FeeStatus,
    FeeUnpaidError,
    HistoryEvent,
    IdentityRequiredError,
    IllegalTransitionError,
    PaymentRecord,
    PickupRequiredError,
    ReasonRequiredError,
    RecordOutcome,
    RequestStatus,
    TextTooLongError,
    UnknownDocumentTypeError,
    UnknownOfficeError,
    UnknownReasonError,
    UnknownRequestError,
)

OWNER = "+243810000001"
OTHER = "+243990000002"
# Dossiers as the USSD form leaves them (the demo catalogue's required fields).
BIRTH = {
    "child_name": "Neema Bahati",
    "birth_date": "14/02/2019",
    "birth_place": "Goma",
    "mother_name": "Furaha Bahati",
}
CRIMINAL = {"birth_date": "03/07/1990", "birth_place": "Bukavu", "purpose": "job"}


def _fee_payment(payment_id: str, reference: str, amount: int = 5000) -> FeePayment:
    return FeePayment(
        payment_id=payment_id,
        reference=reference,
        amount=amount,
        currency="CDF",
        phone=OTHER,
        operator="mpesa",
        provider_reference="PRV-F",
        paid_at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
        receipt_code="1234-5678-90",
    )


def _payment(
    payment_id: str, assessment_id: str, amount: int, currency: str = "CDF"
) -> PaymentRecord:
    return PaymentRecord(
        payment_id=payment_id,
        assessment_id=assessment_id,
        amount=amount,
        currency=currency,
        phone=OWNER,
        operator="sandbox",
        provider_reference="PRV-1",
        paid_at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
        receipt_code="RCPT-1",
    )


def test_ping_answers(backend: Backend) -> None:
    backend.ping()


def test_tax_types_come_in_file_order_with_three_languages(backend: Backend) -> None:
    taxes = backend.list_tax_types()
    assert [t.code for t in taxes] == ["road", "property", "trade", "licence"]
    assert taxes[0].names == {"fr": "Taxe de voirie", "en": "Road tax", "sw": "Kodi ya barabara"}


def test_assessment_lookup_by_tax_and_reference(backend: Backend) -> None:
    found = backend.find_assessment("road", "100001")
    assert found is not None
    assert (found.amount, found.currency, found.period, found.paid) == (26500, "CDF", "2026", False)
    assert found.due_date.isoformat() == "2026-12-31"
    assert backend.get_assessment(found.id) == found
    assert backend.find_assessment("road", "999999") is None
    assert backend.find_assessment("nope", "100001") is None
    assert backend.get_assessment("nope") is None


def test_every_seventh_reference_is_already_paid(backend: Backend) -> None:
    paid = backend.find_assessment("property", "100002")
    assert paid is not None and paid.paid


def test_record_payment_settles_once_and_is_idempotent(backend: Backend) -> None:
    due = backend.find_assessment("trade", "100003")
    assert due is not None and not due.paid
    first = _payment("pay-1", due.id, due.amount)
    assert backend.record_payment(first) is RecordOutcome.RECORDED
    assert backend.record_payment(first) is RecordOutcome.ALREADY_RECORDED
    settled = backend.get_assessment(due.id)
    assert settled is not None and settled.paid
    assert settled.paid_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    other = _payment("pay-2", due.id, due.amount)
    assert backend.record_payment(other) is RecordOutcome.ASSESSMENT_ALREADY_PAID


def test_record_payment_refuses_wrong_amount_currency_or_assessment(backend: Backend) -> None:
    due = backend.find_assessment("road", "100004")
    assert due is not None
    assert backend.record_payment(_payment("p-a", due.id, due.amount - 1)) is (
        RecordOutcome.AMOUNT_MISMATCH
    )
    assert backend.record_payment(_payment("p-b", due.id, due.amount, "KES")) is (
        RecordOutcome.AMOUNT_MISMATCH
    )
    assert backend.record_payment(_payment("p-c", "missing", 1)) is RecordOutcome.UNKNOWN_ASSESSMENT
    still = backend.get_assessment(due.id)
    assert still is not None and not still.paid


def test_document_types_carry_their_procedure_guide(backend: Backend) -> None:
    docs = backend.list_document_types()
    assert [d.code for d in docs] == [
        "birth",
        "marriage",
        "death",
        "residence",
        "criminal",
        "nationality",
        "electoral",
        "wedding",
        "association",
        "act_correction",
    ]
    nationality = backend.get_document_type("nationality")
    assert nationality is not None
    assert (nationality.fee, nationality.currency, nationality.delay_days) == (25000, "CDF", 14)
    assert nationality.needs_visit and nationality.requires_identity
    assert set(nationality.required_documents) == {"fr", "en", "sw"}
    assert len(nationality.required_documents["sw"]) == 4
    assert backend.get_document_type("passport") is None


def test_create_request_is_submitted_with_a_valid_reference(backend: Backend) -> None:
    created = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="k1", dossier=BIRTH
    )
    assert references.validate(created.reference)
    assert created.status is RequestStatus.SUBMITTED
    assert [c.status for c in created.history] == [RequestStatus.SUBMITTED]
    assert created.history[0].agent_id is None
    assert backend.get_request(created.reference) == created
    again = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="k1", dossier=BIRTH
    )
    assert again.reference == created.reference
    assert len(backend.list_requests(owner_phone=OTHER)) == 1


def test_create_request_checks_document_and_identity(backend: Backend) -> None:
    with pytest.raises(UnknownDocumentTypeError):
        backend.create_request(owner_phone=OTHER, document_code="passport", idempotency_key="k2")
    with pytest.raises(IdentityRequiredError):
        backend.create_request(
            owner_phone=OTHER, document_code="criminal", idempotency_key="k3", dossier=CRIMINAL
        )
    made = backend.create_request(
        owner_phone=OTHER,
        document_code="criminal",
        idempotency_key="k4",
        applicant_name="Neema Bahati",
        id_number="CD-99",
        dossier=CRIMINAL,
    )
    assert (made.applicant_name, made.id_number) == ("Neema Bahati", "CD-99")


def test_demo_owner_has_a_request_in_every_status(backend: Backend) -> None:
    mine = backend.list_requests(owner_phone=OWNER, limit=50)
    # Every status but expired, which only time gives (tests/payments/test_request_fees.py).
    assert {r.status for r in mine} == set(RequestStatus) - {RequestStatus.EXPIRED}
    ready = backend.list_requests(owner_phone=OWNER, status=RequestStatus.READY_FOR_PICKUP)
    assert [(r.office_id, r.pickup) for r in ready] == [("townhall", None)]
    rejected = backend.list_requests(status=RequestStatus.REJECTED)
    assert sorted((r.reason_code, r.reason) for r in rejected) == [
        ("missing_info", "Nom du père illisible"),
        ("parents_certificates", None),
    ]


def test_list_requests_pages_newest_first_without_overlap(backend: Backend) -> None:
    everything = backend.list_requests(owner_phone=OWNER, limit=50)
    pages = [backend.list_requests(owner_phone=OWNER, limit=5, offset=o) for o in (0, 5, 10)]
    assert [r.reference for page in pages for r in page] == [r.reference for r in everything]
    assert [len(p) for p in pages] == [5, 5, 2]
    stamps = [r.created_at for r in everything]
    assert stamps == sorted(stamps, reverse=True)
    newest = backend.create_request(
        owner_phone=OWNER, document_code="birth", idempotency_key="n", dossier=BIRTH
    )
    assert backend.list_requests(owner_phone=OWNER, limit=1)[0].reference == newest.reference


def test_decisions_walk_to_delivered_with_an_append_only_history(backend: Backend) -> None:
    ref = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="w", dossier=BIRTH
    ).reference
    backend.decide(ref, Decision.IN_REVIEW, agent_id="agent-a")
    visit = backend.decide(
        ref, Decision.NEEDS_VISIT, agent_id="agent-a", reason_code="id_check", reason="Bring it"
    )
    assert (visit.status, visit.reason_code, visit.reason) == (
        RequestStatus.NEEDS_VISIT,
        "id_check",
        "Bring it",
    )
    approved = backend.decide(ref, Decision.APPROVE, agent_id="agent-b")
    assert (approved.reason, approved.reason_code) == (None, None)
    paid = backend.record_fee_payment(_fee_payment("pay-w", ref))
    assert paid is RecordOutcome.RECORDED
    ready = backend.decide(
        ref, Decision.READY, agent_id="agent-b", office_id="townhall", pickup="Guichet 2, lundi"
    )
    assert (ready.status, ready.office_id, ready.pickup) == (
        RequestStatus.READY_FOR_PICKUP,
        "townhall",
        "Guichet 2, lundi",
    )
    done = backend.decide(ref, Decision.DELIVERED, agent_id="agent-c")
    stored = backend.get_request(ref)
    assert stored == done
    assert [c.status.value for c in stored.history] == [
        "submitted",
        "in_review",
        "needs_visit",
        "approved",
        "approved",  # the fee was paid (event fee_paid): the status stays
        "ready_for_pickup",
        "delivered",
    ]
    assert stored.history[4].event is HistoryEvent.FEE_PAID
    assert [c.agent_id for c in stored.history] == [
        None,
        "agent-a",
        "agent-a",
        "agent-b",
        None,
        "agent-b",
        "agent-c",
    ]
    assert (stored.history[2].reason_code, stored.history[2].reason) == ("id_check", "Bring it")
    # history[4] is the fee payment (event fee_paid), history[5] the ready decision.
    assert (stored.history[5].office_id, stored.history[5].pickup) == (
        "townhall",
        "Guichet 2, lundi",
    )
    assert (stored.office_id, stored.pickup) == ("townhall", "Guichet 2, lundi")
    assert all(c.at.tzinfo is not None for c in stored.history)


def test_illegal_transitions_are_refused_with_the_current_status(backend: Backend) -> None:
    ref = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="i", dossier=BIRTH
    ).reference
    with pytest.raises(IllegalTransitionError) as caught:
        backend.decide(ref, Decision.READY, agent_id="a", office_id="townhall")
    assert caught.value.current is RequestStatus.SUBMITTED
    backend.decide(ref, Decision.REJECT, agent_id="a", reason_code="missing_info")
    with pytest.raises(IllegalTransitionError) as caught:
        backend.decide(ref, Decision.IN_REVIEW, agent_id="a")
    assert caught.value.current is RequestStatus.REJECTED
    stored = backend.get_request(ref)
    assert stored is not None and len(stored.history) == 2


def test_reason_codes_and_offices_are_required_known_and_bounded(backend: Backend) -> None:
    ref = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="r", dossier=BIRTH
    ).reference
    with pytest.raises(ReasonRequiredError):  # free text alone reaches no reader in their language
        backend.decide(ref, Decision.REJECT, agent_id="a", reason="Duplicate")
    with pytest.raises(UnknownReasonError):  # a code of another document
        backend.decide(ref, Decision.REJECT, agent_id="a", reason_code="chief_letter")
    with pytest.raises(TextTooLongError) as caught:
        backend.decide(ref, Decision.REJECT, agent_id="a", reason_code="id_check", reason="x" * 81)
    assert caught.value.field == "reason"
    backend.decide(ref, Decision.IN_REVIEW, agent_id="a")
    with pytest.raises(ReasonRequiredError):
        backend.decide(ref, Decision.NEEDS_VISIT, agent_id="a")
    with pytest.raises(UnknownReasonError):  # a reject-only reason cannot ask for a visit
        backend.decide(ref, Decision.NEEDS_VISIT, agent_id="a", reason_code="not_in_register")
    backend.decide(ref, Decision.APPROVE, agent_id="a")
    with pytest.raises(PickupRequiredError):
        backend.decide(ref, Decision.READY, agent_id="a", pickup="Guichet 2")
    with pytest.raises(UnknownOfficeError):
        backend.decide(ref, Decision.READY, agent_id="a", office_id="moon")
    stored = backend.get_request(ref)
    assert stored is not None and stored.status is RequestStatus.APPROVED


def test_catalogue_carries_reasons_and_offices_in_three_languages(backend: Backend) -> None:
    residence = backend.get_document_type("residence")
    assert residence is not None
    letter = residence.reason("chief_letter", Decision.NEEDS_VISIT)
    assert letter is not None and set(letter.texts) == {"fr", "en", "sw"}
    assert letter.texts["en"] == "Bring the letter from the neighbourhood chief"
    assert residence.reason("chief_letter", Decision.APPROVE) is None
    offices = backend.list_offices()
    assert [o.id for o in offices] == ["townhall", "prosecutor", "court"]
    townhall = backend.get_office("townhall")
    assert townhall == offices[0]
    assert townhall.hours == {
        "fr": "lun-ven 8h-15h",
        "en": "Mon-Fri 8am-3pm",
        "sw": "Jumatatu-Ijumaa saa 2-9",
    }
    assert backend.get_office("moon") is None


def test_agent_text_is_stored_without_control_or_bidi_characters(backend: Backend) -> None:
    ref = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="b", dossier=BIRTH
    ).reference
    rejected = backend.decide(
        ref,
        Decision.REJECT,
        agent_id="a",
        reason_code="missing_info",
        reason="Nom\x00 illisible \u202eeuqilbup\u202c",
    )
    assert rejected.reason == "Nom illisible euqilbup"
    stored = backend.get_request(ref)
    assert stored is not None and stored.history[-1].reason == "Nom illisible euqilbup"


def test_unknown_reference_is_reported(backend: Backend) -> None:
    assert backend.get_request("10000004") is None
    with pytest.raises(UnknownRequestError):
        backend.decide("99999994", Decision.IN_REVIEW, agent_id="a")


def test_citizens_are_created_and_updated(backend: Backend) -> None:
    assert backend.get_citizen(OTHER) is None
    backend.save_citizen(Citizen(phone=OTHER, language="sw"))
    backend.save_citizen(Citizen(phone=OTHER, name="Neema", id_number="X1", language="en"))
    assert backend.get_citizen(OTHER) == Citizen(OTHER, "Neema", "X1", "en")
    demo = backend.get_citizen(OWNER)
    assert demo is not None and demo.name == "Amani Kahindo"


def test_concurrent_decisions_apply_once(backend: Backend) -> None:

    ref = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="c", dossier=BIRTH
    ).reference
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def decide() -> None:
        start.wait()
        try:
            backend.decide(ref, Decision.IN_REVIEW, agent_id=threading.current_thread().name)
            outcomes.append("ok")
        except IllegalTransitionError:
            outcomes.append("illegal")

    threads = [threading.Thread(target=decide) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["illegal", "illegal", "illegal", "ok"]
    stored = backend.get_request(ref)
    assert stored is not None
    assert [c.status for c in stored.history] == [RequestStatus.SUBMITTED, RequestStatus.IN_REVIEW]


def test_concurrent_twin_payments_settle_once(backend: Backend) -> None:
    due = backend.find_assessment("licence", "100011")
    assert due is not None and not due.paid
    start = threading.Barrier(4)
    outcomes: list[RecordOutcome] = []

    def record() -> None:
        start.wait()
        outcomes.append(backend.record_payment(_payment("twin", due.id, due.amount)))

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted(
        [RecordOutcome.RECORDED] + [RecordOutcome.ALREADY_RECORDED] * 3
    )


# --- dossiers and fees ------------------------------------------------------------------------


def test_catalogue_declares_fields_and_what_to_bring(backend: Backend) -> None:
    birth = backend.get_document_type("birth")
    assert birth is not None
    assert [f.key for f in birth.fields] == [
        "child_name",
        "birth_date",
        "birth_place",
        "father_name",
        "mother_name",
    ]
    assert [f.validator for f in birth.fields][:3] == ["person_name", "past_date", "place"]
    assert not birth.fields[3].required and birth.fields[0].required
    assert set(birth.fields[1].labels) == {"fr", "en", "sw"}
    assert birth.at_counter == {}
    criminal = backend.get_document_type("criminal")
    assert criminal is not None
    purpose = criminal.fields[-1]
    assert purpose.validator == "choice"
    assert [c.value for c in purpose.choices] == ["job", "travel", "other"]
    assert "deux photos" in criminal.at_counter["fr"][0]
    nationality = backend.get_document_type("nationality")
    assert nationality is not None and nationality.fields[-1].pattern == "^[0-9]{8,12}$"


def test_dossier_is_stored_with_the_request_and_checked(backend: Backend) -> None:
    made = backend.create_request(
        owner_phone=OTHER,
        document_code="birth",
        idempotency_key="d1",
        dossier={**BIRTH, "father_name": "  Jean   Bahati "},
    )
    stored = backend.get_request(made.reference)
    assert stored is not None
    assert dict(stored.dossier) == {**BIRTH, "father_name": "Jean Bahati"}
    assert (stored.fee, stored.currency, stored.fee_status) == (5000, "CDF", FeeStatus.DUE)
    missing = {k: v for k, v in BIRTH.items() if k != "mother_name"}
    with pytest.raises(DossierError) as caught:
        backend.create_request(
            owner_phone=OTHER, document_code="birth", idempotency_key="d2", dossier=missing
        )
    assert caught.value.field == "mother_name"
    with pytest.raises(DossierError) as caught:
        backend.create_request(
            owner_phone=OTHER,
            document_code="birth",
            idempotency_key="d3",
            dossier={**BIRTH, "password": "x"},
        )
    assert caught.value.field == "password"
    assert len(backend.list_requests(owner_phone=OTHER)) == 1


def test_a_collected_fee_holds_the_request_until_it_is_paid_once(backend: Backend) -> None:
    made = backend.create_request(
        owner_phone=OTHER,
        document_code="birth",
        idempotency_key="f1",
        dossier=BIRTH,
        collect_fee=True,
    )
    assert (made.status, made.fee_status) == (RequestStatus.AWAITING_PAYMENT, FeeStatus.DUE)
    with pytest.raises(IllegalTransitionError):
        backend.decide(made.reference, Decision.IN_REVIEW, agent_id="a")
    wrong = _fee_payment("pay-0", made.reference, amount=4999)
    assert backend.record_fee_payment(wrong) is RecordOutcome.AMOUNT_MISMATCH
    payment = _fee_payment("pay-1", made.reference)
    assert backend.record_fee_payment(payment) is RecordOutcome.RECORDED
    assert backend.record_fee_payment(payment) is RecordOutcome.ALREADY_RECORDED
    twin = _fee_payment("pay-2", made.reference)
    assert backend.record_fee_payment(twin) is RecordOutcome.FEE_ALREADY_SETTLED
    unknown = _fee_payment("pay-3", "99999994")
    assert backend.record_fee_payment(unknown) is RecordOutcome.UNKNOWN_REQUEST
    stored = backend.get_request(made.reference)
    assert stored is not None
    assert (stored.status, stored.fee_status) == (RequestStatus.SUBMITTED, FeeStatus.PAID)
    assert stored.fee_receipt == "1234-5678-90"
    assert [(c.status, c.event) for c in stored.history] == [
        (RequestStatus.AWAITING_PAYMENT, None),
        (RequestStatus.SUBMITTED, HistoryEvent.FEE_PAID),
    ]


def test_ready_is_refused_on_an_unpaid_fee_until_a_waiver_with_a_reason(backend: Backend) -> None:
    ref = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="u", dossier=BIRTH
    ).reference
    backend.decide(ref, Decision.IN_REVIEW, agent_id="a")
    backend.decide(ref, Decision.APPROVE, agent_id="a")
    with pytest.raises(FeeUnpaidError) as refused:
        backend.decide(ref, Decision.READY, agent_id="a", office_id="townhall", pickup="Guichet 2")
    assert refused.value.current is RequestStatus.APPROVED
    with pytest.raises(ReasonRequiredError):
        backend.decide(ref, Decision.WAIVE_FEE, agent_id="chief")
    waived = backend.decide(ref, Decision.WAIVE_FEE, agent_id="chief", reason="Indigent family")
    assert (waived.status, waived.fee_status) == (RequestStatus.APPROVED, FeeStatus.WAIVED)
    entry = waived.history[-1]
    assert (entry.event, entry.reason, entry.agent_id) == (
        HistoryEvent.FEE_WAIVED,
        "Indigent family",
        "chief",
    )
    with pytest.raises(IllegalTransitionError):
        backend.decide(ref, Decision.WAIVE_FEE, agent_id="chief", reason="Twice")
    ready = backend.decide(
        ref, Decision.READY, agent_id="a", office_id="townhall", pickup="Guichet 2"
    )
    assert ready.status is RequestStatus.READY_FOR_PICKUP
    assert backend.get_request(ref) == ready


def test_a_waiver_releases_a_request_awaiting_payment(backend: Backend) -> None:
    ref = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="v", dossier=BIRTH,
        collect_fee=True,
    ).reference  # fmt: skip
    released = backend.decide(ref, Decision.WAIVE_FEE, agent_id="chief", reason="Orphan")
    assert (released.status, released.fee_status) == (RequestStatus.SUBMITTED, FeeStatus.WAIVED)
    payment = _fee_payment("pay-late", ref)
    assert backend.record_fee_payment(payment) is RecordOutcome.FEE_ALREADY_SETTLED


def test_only_requests_awaiting_payment_expire_and_a_late_payment_revives(
    backend: Backend,
) -> None:
    ref = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="e", dossier=BIRTH,
        collect_fee=True,
    ).reference  # fmt: skip
    future = datetime(2100, 1, 1, tzinfo=UTC)
    past = datetime(2000, 1, 1, tzinfo=UTC)
    waiting = backend.list_requests(status=RequestStatus.AWAITING_PAYMENT, created_before=future)
    assert ref in [r.reference for r in waiting]
    assert backend.list_requests(created_before=past) == []
    expired = backend.expire_request(ref)
    assert expired is not None and expired.status is RequestStatus.EXPIRED
    assert backend.expire_request(ref) is None
    assert backend.expire_request("10000012") is None  # submitted: not awaiting
    assert backend.get_request(ref) == expired
    assert backend.record_fee_payment(_fee_payment("pay-e", ref)) is RecordOutcome.RECORDED
    revived = backend.get_request(ref)
    assert revived is not None
    assert (revived.status, revived.fee_status) == (RequestStatus.SUBMITTED, FeeStatus.PAID)


def test_kinds_and_their_workflows_are_carried_by_every_backend(backend: Backend) -> None:
    electoral = backend.get_document_type("electoral")
    birth = backend.get_document_type("birth")
    assert electoral is not None and birth is not None
    assert (electoral.kind, birth.kind) == ("registration", "document")
    assert birth.transitions == {}  # a document delivery follows civic.workflow.TRANSITIONS
    assert electoral.transitions[RequestStatus.IN_REVIEW] == {
        Decision.APPOINTMENT_NEEDED: RequestStatus.APPOINTMENT_NEEDED,
        Decision.APPROVE: RequestStatus.APPROVED,
        Decision.REJECT: RequestStatus.REJECTED,
    }
    # The fee flow is every kind's.
    assert Decision.WAIVE_FEE in electoral.transitions[RequestStatus.AWAITING_PAYMENT]
    reasons = {r.code: r.decisions for r in electoral.reasons}
    assert reasons["photo_fingerprints"] == (Decision.APPOINTMENT_NEEDED,)


def test_a_registration_follows_its_kinds_workflow_on_every_backend(backend: Backend) -> None:
    filed = backend.create_request(
        owner_phone=OWNER,
        document_code="electoral",
        idempotency_key="kind-1",
        applicant_name="Amani Kahindo",
        id_number="CD-123456",
        dossier={"birth_date": "03/07/1990", "quarter": "Himbi"},
    )
    ref = filed.reference
    backend.decide(ref, Decision.IN_REVIEW, agent_id="a1")
    with pytest.raises(IllegalTransitionError) as refused:
        backend.decide(ref, Decision.NEEDS_VISIT, agent_id="a1", reason_code="id_check")
    assert refused.value.current is RequestStatus.IN_REVIEW
    with pytest.raises(UnknownReasonError):
        backend.decide(
            ref, Decision.APPOINTMENT_NEEDED, agent_id="a1", reason_code="already_registered"
        )
    asked = backend.decide(
        ref,
        Decision.APPOINTMENT_NEEDED,
        agent_id="a1",
        reason_code="photo_fingerprints",
        reason="Mardi matin",
    )
    assert asked.status is RequestStatus.APPOINTMENT_NEEDED
    assert (asked.reason_code, asked.reason) == ("photo_fingerprints", "Mardi matin")
    approved = backend.decide(ref, Decision.APPROVE, agent_id="a1")
    assert approved.reason_code is None  # the reason belonged to the appointment
    assert [c.status for c in approved.history] == [
        RequestStatus.SUBMITTED,
        RequestStatus.IN_REVIEW,
        RequestStatus.APPOINTMENT_NEEDED,
        RequestStatus.APPROVED,
    ]
    assert ref in [r.reference for r in backend.list_requests(status=RequestStatus.APPROVED)]


def test_a_correction_keeps_its_act_reference_on_every_backend(backend: Backend) -> None:
    filed = backend.create_request(
        owner_phone=OWNER,
        document_code="act_correction",
        idempotency_key="kind-2",
        applicant_name="Amani Kahindo",
        id_number="CD-123456",
        dossier={"act_reference": "ACT-2015-000412", "wrong_entry": "date", "right_entry": "Goma"},
    )
    again = backend.get_request(filed.reference)
    assert again is not None and again.dossier["act_reference"] == "ACT-2015-000412"
