"""The request status machine as pure functions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from civic import workflow
from civic.ports import (
    Decision,
    FeeStatus,
    FeeUnpaidError,
    IllegalTransitionError,
    PickupRequiredError,
    ReasonRequiredError,
    RequestStatus,
    TextTooLongError,
)

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


def test_apply_appends_and_never_rewrites_history() -> None:
    start = _new()
    reviewed = workflow.apply(start, D.IN_REVIEW, agent_id="a1", at=AT)
    rejected = workflow.apply(reviewed, D.REJECT, agent_id="a2", at=AT, reason="  Bad   photo ")
    assert start.history == (workflow.StatusChange(S.SUBMITTED, AT, None),)
    assert rejected.history[:2] == reviewed.history
    assert rejected.history[-1] == workflow.StatusChange(S.REJECTED, AT, "a2", "Bad photo")
    assert (rejected.status, rejected.reason) == (S.REJECTED, "Bad photo")


def test_reason_is_cleared_when_the_request_moves_on() -> None:
    visit = workflow.apply(
        workflow.apply(_new(), D.IN_REVIEW, agent_id="a", at=AT),
        D.NEEDS_VISIT,
        agent_id="a",
        at=AT,
        reason="Come with ID",
    )
    approved = workflow.apply(visit, D.APPROVE, agent_id="a", at=AT, pickup="ignored")
    assert visit.reason == "Come with ID"
    assert (approved.reason, approved.pickup) == (None, None)


def test_required_and_bounded_texts() -> None:
    with pytest.raises(ReasonRequiredError):
        workflow.check_decision(S.SUBMITTED, D.REJECT, None, None)
    with pytest.raises(PickupRequiredError):
        workflow.check_decision(S.APPROVED, D.READY, None, " ")
    with pytest.raises(TextTooLongError) as caught:
        workflow.check_decision(S.APPROVED, D.READY, None, "p" * 61)
    assert (caught.value.field, caught.value.limit) == ("pickup", 60)
    assert workflow.check_decision(S.APPROVED, D.READY, None, "p" * 60)[2] == "p" * 60


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
