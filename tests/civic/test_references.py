"""Request references: the Damm check digit catches every single typo and adjacent swap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civic import references

bodies = st.integers(min_value=1_000_000, max_value=9_999_999)


def test_known_damm_values() -> None:
    # The published example: 572 -> 4.
    assert references.check_digit("572") == "4"
    assert references.make_reference(1_000_001) == "10000012"
    assert references.validate("10000012")


@pytest.mark.parametrize(
    "text", ["", "1000001", "100000123", "1000001x", "10000013", "00000000", "１０００００１２"]
)
def test_malformed_or_mistyped_references_are_refused(text: str) -> None:
    assert not references.validate(text)


@given(bodies, st.integers(min_value=0, max_value=7), st.integers(min_value=1, max_value=9))
def test_every_single_digit_typo_is_caught(body: int, position: int, delta: int) -> None:
    ref = references.make_reference(body)
    digit = (int(ref[position]) + delta) % 10
    typo = ref[:position] + str(digit) + ref[position + 1 :]
    assert not references.validate(typo)


@given(bodies, st.integers(min_value=0, max_value=6))
def test_every_adjacent_transposition_is_caught(body: int, position: int) -> None:
    ref = references.make_reference(body)
    swapped = ref[:position] + ref[position + 1] + ref[position] + ref[position + 2 :]
    if swapped != ref:
        assert not references.validate(swapped)


def test_all_adjacent_pairs_exhaustively() -> None:
    # Luhn misses 09 <-> 90; check every pair of distinct digits in every position.
    base = "1234567"
    for position in range(6):
        for a in range(10):
            for b in range(10):
                if a == b or (position == 0 and 0 in (a, b)):
                    continue
                body = base[:position] + f"{a}{b}" + base[position + 2 :]
                ref = body + references.check_digit(body)
                swapped = body[:position] + f"{b}{a}" + body[position + 2 :] + ref[-1]
                assert references.validate(ref)
                assert not references.validate(swapped)


def test_new_references_are_valid_and_vary() -> None:
    made = {references.new_reference() for _ in range(50)}
    assert all(references.validate(r) for r in made)
    assert len(made) > 40


def test_bodies_outside_seven_digits_are_refused() -> None:
    with pytest.raises(ValueError, match="7 digits"):
        references.make_reference(999_999)
    with pytest.raises(ValueError, match="digits"):
        references.check_digit("12a")
