"""Every civic backend (SQLite, PostgreSQL, the HTTP portal contract) finds and settles payables
the same way: open one first, unknown references, idempotent by payment id, once only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from civic.payables import kind_of, payable_names
from civic.ports import Backend, PayablePayment, RecordOutcome

PUPIL_ID = "school_fees-T1202627-200003"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _payment(payment_id: str, *, payable_id: str = PUPIL_ID, amount: int = 52500) -> PayablePayment:
    return PayablePayment(
        payment_id=payment_id,
        payable_id=payable_id,
        amount=amount,
        currency="CDF",
        phone="+243810000001",
        operator="airtel",
        provider_reference="AT-1",
        paid_at=NOW,
        receipt_code="0001-2345-67",
    )


def test_the_catalogue_declares_school_fees_and_licences_in_every_language(
    backend: Backend,
) -> None:
    kinds = backend.list_payable_kinds()
    assert [k.code for k in kinds] == ["school_fees", "trade_licence"]
    school = kind_of(backend, "school_fees")
    assert school is not None and school.pattern == "^[0-9]{6}$"
    for kind in kinds:
        for texts in (kind.names, kind.reference_label, kind.receipt):
            assert set(texts) == {"fr", "en", "sw"}


def test_a_pupil_is_found_by_kind_and_student_number_and_unknown_ones_are_none(
    backend: Backend,
) -> None:
    found = backend.find_payable("school_fees", "200003")
    assert found is not None
    assert (found.id, found.amount, found.currency, found.period, found.paid) == (
        PUPIL_ID,
        52500,
        "CDF",
        "T1 2026-27",
        False,
    )
    assert found.payer == "Lycée Wima, 2e C"
    assert backend.get_payable(PUPIL_ID) == found
    assert backend.find_payable("school_fees", "299999") is None
    assert backend.find_payable("trade_licence", "200003") is None  # another kind's numbers
    assert backend.get_payable("no-such-payable") is None
    assert payable_names(backend, PUPIL_ID)["fr"] == "Frais scolaires T1 2026-27"
    assert payable_names(backend, "no-such-payable") == {}


def test_a_payment_settles_it_once_and_the_same_payment_again_changes_nothing(
    backend: Backend,
) -> None:
    assert backend.record_payable_payment(_payment("p-1")) is RecordOutcome.RECORDED
    paid = backend.get_payable(PUPIL_ID)
    assert paid is not None and paid.paid and paid.receipt_code == "0001-2345-67"
    assert paid.paid_at == NOW
    assert backend.record_payable_payment(_payment("p-1")) is RecordOutcome.ALREADY_RECORDED
    assert backend.record_payable_payment(_payment("p-2")) is RecordOutcome.PAYABLE_ALREADY_PAID
    assert backend.find_payable("school_fees", "200003") == paid  # the paid one, once none open


@pytest.mark.parametrize(
    ("payment", "outcome"),
    [
        (_payment("p-3", amount=1), RecordOutcome.AMOUNT_MISMATCH),
        (_payment("p-4", payable_id="no-such-payable"), RecordOutcome.UNKNOWN_PAYABLE),
    ],
)
def test_a_wrong_amount_or_an_unknown_payable_settles_nothing(
    backend: Backend, payment: PayablePayment, outcome: RecordOutcome
) -> None:
    assert backend.record_payable_payment(payment) is outcome
    still = backend.get_payable(PUPIL_ID)
    assert still is not None and not still.paid
