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
    ]
    nationality = backend.get_document_type("nationality")
    assert nationality is not None
    assert (nationality.fee, nationality.currency, nationality.delay_days) == (25000, "CDF", 14)
    assert nationality.needs_visit and nationality.requires_identity
    assert set(nationality.required_documents) == {"fr", "en", "sw"}
    assert len(nationality.required_documents["sw"]) == 4
    assert backend.get_document_type("passport") is None


def test_create_request_is_submitted_with_a_valid_reference(backend: Backend) -> None:
    created = backend.create_request(owner_phone=OTHER, document_code="birth", idempotency_key="k1")
    assert references.validate(created.reference)
    assert created.status is RequestStatus.SUBMITTED
    assert [c.status for c in created.history] == [RequestStatus.SUBMITTED]
    assert created.history[0].agent_id is None
    assert backend.get_request(created.reference) == created
    again = backend.create_request(owner_phone=OTHER, document_code="birth", idempotency_key="k1")
    assert again.reference == created.reference
    assert len(backend.list_requests(owner_phone=OTHER)) == 1


def test_create_request_checks_document_and_identity(backend: Backend) -> None:
    with pytest.raises(UnknownDocumentTypeError):
        backend.create_request(owner_phone=OTHER, document_code="passport", idempotency_key="k2")
    with pytest.raises(IdentityRequiredError):
        backend.create_request(owner_phone=OTHER, document_code="criminal", idempotency_key="k3")
    made = backend.create_request(
        owner_phone=OTHER,
        document_code="criminal",
        idempotency_key="k4",
        applicant_name="Neema Bahati",
        id_number="CD-99",
    )
    assert (made.applicant_name, made.id_number) == ("Neema Bahati", "CD-99")


def test_demo_owner_has_a_request_in_every_status(backend: Backend) -> None:
    mine = backend.list_requests(owner_phone=OWNER, limit=50)
    assert {r.status for r in mine} == set(RequestStatus)
    ready = backend.list_requests(owner_phone=OWNER, status=RequestStatus.READY_FOR_PICKUP)
    assert [(r.office_id, r.pickup) for r in ready] == [("townhall", None)]
    rejected = backend.list_requests(status=RequestStatus.REJECTED)
    assert sorted((r.reason_code, r.reason) for r in rejected) == [
        ("missing_info", "Nom du père illisible"),
        ("parents_certificates", None),
    ]


def test_list_requests_pages_newest_first_without_overlap(backend: Backend) -> None:
    everything = backend.list_requests(owner_phone=OWNER, limit=50)
    pages = [backend.list_requests(owner_phone=OWNER, limit=4, offset=o) for o in (0, 4, 8)]
    assert [r.reference for page in pages for r in page] == [r.reference for r in everything]
    assert [len(p) for p in pages] == [4, 4, 1]
    stamps = [r.created_at for r in everything]
    assert stamps == sorted(stamps, reverse=True)
    newest = backend.create_request(owner_phone=OWNER, document_code="birth", idempotency_key="n")
    assert backend.list_requests(owner_phone=OWNER, limit=1)[0].reference == newest.reference


def test_decisions_walk_to_delivered_with_an_append_only_history(backend: Backend) -> None:
    ref = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="w"
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
        "ready_for_pickup",
        "delivered",
    ]
    assert [c.agent_id for c in stored.history] == [
        None,
        "agent-a",
        "agent-a",
        "agent-b",
        "agent-b",
        "agent-c",
    ]
    assert (stored.history[2].reason_code, stored.history[2].reason) == ("id_check", "Bring it")
    assert (stored.history[4].office_id, stored.history[4].pickup) == (
        "townhall",
        "Guichet 2, lundi",
    )
    assert (stored.office_id, stored.pickup) == ("townhall", "Guichet 2, lundi")
    assert all(c.at.tzinfo is not None for c in stored.history)


def test_illegal_transitions_are_refused_with_the_current_status(backend: Backend) -> None:
    ref = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="i"
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
        owner_phone=OTHER, document_code="birth", idempotency_key="r"
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
        owner_phone=OTHER, document_code="birth", idempotency_key="b"
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
        owner_phone=OTHER, document_code="birth", idempotency_key="c"
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
