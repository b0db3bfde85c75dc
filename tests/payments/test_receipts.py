"""Receipt codes: round trip, every single typo and adjacent transposition caught, forgeries."""

from __future__ import annotations

import random
import re
from datetime import date

import pytest

from civic.references import check_digit
from payments.receipts import (
    MAC_DIGITS,
    ReceiptCodec,
    ReceiptFields,
    ReceiptVerifier,
    VerificationStatus,
    group,
    normalize,
)

KEY = b"test-receipt-key-0123456789abcdef"
FIELDS = ReceiptFields(
    amount=25000, currency="CDF", tax="road", reference="100045", date=date(2026, 5, 14)
)


def verifier(book: dict[int, ReceiptFields], key: bytes = KEY) -> ReceiptVerifier:
    return ReceiptVerifier(ReceiptCodec(key), book.get)


def test_code_round_trip_gives_back_the_receipt() -> None:
    codec = ReceiptCodec(KEY)
    code = codec.issue(42, FIELDS)
    assert re.fullmatch(r"\d{4}-\d{4}-\d{2}", code), code
    result = verifier({42: FIELDS}).verify(code)
    assert result.status is VerificationStatus.VALID
    assert (result.amount, result.currency, result.tax, result.reference, result.date) == (
        25000,
        "CDF",
        "road",
        "100045",
        date(2026, 5, 14),
    )


def test_code_is_accepted_with_spaces_or_without_dashes() -> None:
    code = ReceiptCodec(KEY).issue(7, FIELDS)
    book = {7: FIELDS}
    assert verifier(book).verify(code.replace("-", "")).status is VerificationStatus.VALID
    assert verifier(book).verify(code.replace("-", " ")).status is VerificationStatus.VALID


def test_codes_grow_with_the_serial() -> None:
    code = ReceiptCodec(KEY).issue(1234567, FIELDS)
    assert len(normalize(code) or "") == 7 + MAC_DIGITS + 1
    assert verifier({1234567: FIELDS}).verify(code).status is VerificationStatus.VALID


@pytest.mark.parametrize("serial", [1, 42, 9999, 123456])
def test_every_single_digit_typo_is_reported_mistyped(serial: int) -> None:
    digits = normalize(ReceiptCodec(KEY).issue(serial, FIELDS)) or ""
    check = verifier({serial: FIELDS})
    typos = 0
    for position, original in enumerate(digits):
        for replacement in "0123456789":
            if replacement == original:
                continue
            typo = digits[:position] + replacement + digits[position + 1 :]
            assert check.verify(group(typo)).status is VerificationStatus.MISTYPED, typo
            typos += 1
    assert typos == 9 * len(digits)


@pytest.mark.parametrize("serial", [3, 58, 4711, 987654])
def test_every_adjacent_transposition_is_reported_mistyped(serial: int) -> None:
    digits = normalize(ReceiptCodec(KEY).issue(serial, FIELDS)) or ""
    check = verifier({serial: FIELDS})
    swaps = 0
    for i in range(len(digits) - 1):
        if digits[i] == digits[i + 1]:
            continue
        swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
        assert check.verify(swapped).status is VerificationStatus.MISTYPED, swapped
        swaps += 1
    assert swaps > 0


def test_a_forged_code_with_a_right_check_digit_is_unknown() -> None:
    rng = random.Random(5)
    check = verifier({42: FIELDS})
    real_mac = ReceiptCodec(KEY).mac(42, FIELDS)
    for _ in range(500):
        mac = f"{rng.randrange(10**MAC_DIGITS):0{MAC_DIGITS}d}"
        if mac == real_mac:
            continue
        body = "42" + mac
        forged = body + check_digit(body)
        assert check.verify(forged).status is VerificationStatus.UNKNOWN


def test_a_code_made_with_another_key_is_unknown() -> None:
    forged = ReceiptCodec(b"someone-elses-key-0123456789").issue(42, FIELDS)
    assert verifier({42: FIELDS}).verify(forged).status is VerificationStatus.UNKNOWN


def test_a_tampered_receipt_row_no_longer_verifies() -> None:
    code = ReceiptCodec(KEY).issue(42, FIELDS)
    tampered = ReceiptFields(
        amount=250000, currency="CDF", tax="road", reference="100045", date=FIELDS.date
    )
    assert verifier({42: tampered}).verify(code).status is VerificationStatus.UNKNOWN


def test_unknown_serial_is_unknown() -> None:
    code = ReceiptCodec(KEY).issue(43, FIELDS)
    assert verifier({42: FIELDS}).verify(code).status is VerificationStatus.UNKNOWN


def test_offline_check_binds_the_printed_fields() -> None:
    codec = ReceiptCodec(KEY)
    code = codec.issue(42, FIELDS)
    assert codec.authenticates(code, FIELDS)
    for changed in (
        ReceiptFields(25001, "CDF", "road", "100045", FIELDS.date),
        ReceiptFields(25000, "CDF", "road", "100046", FIELDS.date),
        ReceiptFields(25000, "CDF", "road", "100045", date(2026, 5, 15)),
        ReceiptFields(25000, "CDF", "trade", "100045", FIELDS.date),
    ):
        assert not codec.authenticates(code, changed)


@pytest.mark.parametrize("garbage", ["", "abc", "1234", "4827-1930-5x", "1" * 40, "٤٨٢٧١٩٣٠٥٥"])
def test_garbage_is_mistyped(garbage: str) -> None:
    assert verifier({}).verify(garbage).status is VerificationStatus.MISTYPED


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        ReceiptCodec(b"short")
