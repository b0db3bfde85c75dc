"""The request status machine as pure functions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from civic import workflow
from civic.ports import (
    Decision,
    DocumentType,
    FeeStatus,
    FeeUnpaidError,
    IllegalTransitionError,
    PickupRequiredError,
    Reason,
    ReasonRequiredError,
    RequestStatus,
    TextTooLongError,
    UnknownOfficeError,
    UnknownReasonError,
)
from civic.wording import clean_agent_text, reason_text

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
S = RequestStatus
D = Decision


def _new() -> workflow.DocumentRequest:
    return workflow.submitted(
        reference="10000012", document_code="birth", owner_phone="+243810000001", at=AT
    )


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (S.SUBMITTED, {D.IN_REVIEW, D.REJECT}),
        (S.IN_REVIEW, {D.NEEDS_VISIT, D.APPROVE, D.REJECT}),
        (S.NEEDS_VISIT, {D.APPROVE, D.REJECT}),
        (S.APPROVED, {D.READY}),
        (S.READY_FOR_PICKUP, {D.DELIVERED}),
        (S.DELIVERED, set()),
        (S.REJECTED, set()),
        (S.AWAITING_PAYMENT, {D.REJECT}),
        (S.EXPIRED, set()),
    ],
)
def test_allowed_decisions_per_status(status: RequestStatus, allowed: set[Decision]) -> None:
    assert set(workflow.allowed_decisions(status)) == allowed
    for decision in set(Decision) - allowed:
        with pytest.raises(IllegalTransitionError):
            workflow.next_status(status, decision)


BIRTH = DocumentType(
    code="birth",
    names={"fr": "Extrait", "en": "Extract", "sw": "Cheti"},
    fee=0,
    currency="CDF",
    required_documents={},
    needs_visit=False,
    requires_identity=False,
    delay_days=1,
    office={"fr": "Mairie"},
    reasons=(
        Reason("photo", (D.REJECT,), {"fr": "Photo floue", "en": "Blurred photo"}),
        Reason("id_check", (D.NEEDS_VISIT, D.REJECT), {"fr": "Venez", "en": "Come"}),
    ),
)


def test_apply_appends_and_never_rewrites_history() -> None:
    start = _new()
    reviewed = workflow.apply(start, D.IN_REVIEW, agent_id="a1", at=AT)
    rejected = workflow.apply(
        reviewed,
        D.REJECT,
        agent_id="a2",
        at=AT,
        document=BIRTH,
        reason_code="photo",
        reason="  Bad \x00 \u202ephoto ",
    )
    assert start.history == (workflow.StatusChange(S.SUBMITTED, AT, None),)
    assert rejected.history[:2] == reviewed.history
    assert rejected.history[-1] == workflow.StatusChange(
        S.REJECTED, AT, "a2", "Bad photo", reason_code="photo"
    )
    assert (rejected.status, rejected.reason, rejected.reason_code) == (
        S.REJECTED,
        "Bad photo",
        "photo",
    )


def test_reason_is_cleared_when_the_request_moves_on() -> None:
    visit = workflow.apply(
        workflow.apply(_new(), D.IN_REVIEW, agent_id="a", at=AT),
        D.NEEDS_VISIT,
        agent_id="a",
        at=AT,
        document=BIRTH,
        reason_code="id_check",
    )
    approved = workflow.apply(visit, D.APPROVE, agent_id="a", at=AT, pickup="ignored")
    assert visit.reason_code == "id_check"
    assert (approved.reason, approved.reason_code, approved.pickup) == (None, None, None)
    ready = workflow.apply(
        approved, D.READY, agent_id="a", at=AT, office_ids={"townhall"}, office_id="townhall"
    )
    assert (ready.office_id, ready.pickup) == ("townhall", None)


def test_codes_are_required_known_and_free_text_bounded() -> None:
    check = workflow.check_decision
    with pytest.raises(ReasonRequiredError) as no_code:
        check(S.SUBMITTED, D.REJECT, document=BIRTH, reason="why")
    assert no_code.value.field == "reason_code"
    with pytest.raises(UnknownReasonError):
        check(S.SUBMITTED, D.REJECT, document=BIRTH, reason_code="nope")
    with pytest.raises(UnknownReasonError):  # a reject-only reason cannot ask for a visit
        check(S.IN_REVIEW, D.NEEDS_VISIT, document=BIRTH, reason_code="photo")
    with pytest.raises(PickupRequiredError) as no_office:
        check(S.APPROVED, D.READY, office_ids={"townhall"}, pickup="desk 2")
    assert no_office.value.field == "office"
    with pytest.raises(UnknownOfficeError):
        check(S.APPROVED, D.READY, office_ids={"townhall"}, office_id="moon")
    with pytest.raises(TextTooLongError) as caught:
        check(S.APPROVED, D.READY, office_ids={"t"}, office_id="t", pickup="p" * 81)
    assert (caught.value.field, caught.value.limit) == ("pickup", 80)
    fine = check(S.APPROVED, D.READY, office_ids={"t"}, office_id="t", pickup="p" * 80)
    assert fine.pickup == "p" * 80


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\x00b", "ab"),
        ("left \u202eright\u202c", "left right"),
        ("\u2066iso\u2069 \u200fmark", "iso mark"),
        ("tab\tand\nnew line", "tab and new line"),
        ("\x07\x1b[31m", "[31m"),
        ("   ", None),
        ("fenêtre 2", "fenêtre 2"),
    ],
)
def test_agent_text_loses_control_and_bidi_characters(raw: str, clean: str | None) -> None:
    assert clean_agent_text(raw) == clean


def test_citizen_reads_the_coded_reason_in_their_language_then_the_free_text() -> None:
    rejected = workflow.apply(
        _new(), D.REJECT, agent_id="a", at=AT, document=BIRTH, reason_code="photo", reason="x"
    )
    assert reason_text(rejected, BIRTH, "en") == "Blurred photo. x"
    assert reason_text(rejected, BIRTH, "fr") == "Photo floue. x"
    assert reason_text(rejected, BIRTH, "sw") == "Photo floue. x"  # no sw text: the default


def test_handing_over_is_refused_while_the_fee_is_due() -> None:
    due = dataclasses.replace(_new(), fee=5000, currency="CDF", fee_status=FeeStatus.DUE)
    at_counter = dataclasses.replace(due, status=S.READY_FOR_PICKUP)  # e.g. older data
    with pytest.raises(FeeUnpaidError):
        workflow.apply(at_counter, D.DELIVERED, agent_id="a", at=AT)
    assert workflow.allowed_decisions(S.READY_FOR_PICKUP, FeeStatus.DUE) == [D.WAIVE_FEE]
    waived = workflow.apply(at_counter, D.WAIVE_FEE, agent_id="a", at=AT, reason="Indigent")
    done = workflow.apply(waived, D.DELIVERED, agent_id="a", at=AT)
    assert done.status is S.DELIVERED and done.fee_status is FeeStatus.WAIVED


def test_a_free_document_has_no_fee_to_waive() -> None:
    free = _new()
    assert free.fee_status is FeeStatus.NONE
    with pytest.raises(IllegalTransitionError):
        workflow.apply(free, D.WAIVE_FEE, agent_id="a", at=AT, reason="x")
