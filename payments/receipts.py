"""Receipt codes: short, keypad-typeable, authenticated by the city's key.

A code is `serial ‖ mac ‖ check`, all decimal digits, grouped by four for reading
(`4827-1930-55`):

- `serial`: the receipt's number in `payment_receipts` (at least 2 digits, zero-padded);
- `mac`: 7 digits = HMAC-SHA256(city key, canonical fields) truncated (~23.3 bits);
- `check`: one Damm check digit over everything before it; Damm catches every single-digit
  error and every adjacent transposition, so a typo is answered "mistyped" before any lookup.

The MAC covers the serial AND the receipt's fields (amount, currency, tax, reference, date).
Offline (key only, no database) a verifier who has the fields printed on the receipt SMS
checks they are exactly what the city issued (`ReceiptCodec.authenticates`). From the code
alone the fields come from the receipts table by serial, and the MAC is then recomputed over
the stored row, so a row added or edited without the key is rejected as well.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final

from civic.references import check_digit

MAC_DIGITS: Final = 7
SERIAL_MIN_DIGITS: Final = 2
MAX_CODE_DIGITS: Final = 24
_GROUP: Final = 4


def group(digits: str) -> str:
    """Write a code's digits in groups of four for reading (`4827-1930-55`)."""
    return "-".join(digits[i : i + _GROUP] for i in range(0, len(digits), _GROUP))


def normalize(code: str) -> str | None:
    """Return the code's digits without separators, or None when it is not a code at all."""
    digits = "".join(ch for ch in code if ch not in " -.\t")
    if not digits.isascii() or not digits.isdigit():
        return None
    if not SERIAL_MIN_DIGITS + MAC_DIGITS + 1 <= len(digits) <= MAX_CODE_DIGITS:
        return None
    return digits


@dataclass(frozen=True, slots=True)
class ReceiptFields:
    """What a receipt proves: this amount was paid for this assessment on this date."""

    amount: int
    currency: str
    tax: str  # tax code
    reference: str  # assessment reference (a request fee: the request's reference)
    date: date
    kind: str = "tax_assessment"  # payments.model.PaymentKind: what was paid

    def canonical(self, serial: int) -> bytes:
        """Return the bytes the MAC covers; versioned so the format can evolve."""
        fields = (str(serial), str(self.amount), self.currency, self.tax, self.reference,
                  self.date.isoformat())  # fmt: skip
        if self.kind == "tax_assessment":  # v1, unchanged: codes issued before kinds verify
            return "|".join(("guichet-receipt-v1", *fields)).encode()
        # v2 covers the kind too: a fee receipt can never pass for a tax one.
        return "|".join(("guichet-receipt-v2", self.kind, *fields)).encode()


@dataclass(frozen=True, slots=True)
class ParsedCode:
    """A code whose check digit is right: its serial and MAC digits."""

    serial: int
    mac: str


class ReceiptCodec:
    """Issue and check codes with the city's key; needs no database."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the receipt key must be at least 16 bytes")
        self._key = key

    def mac(self, serial: int, fields: ReceiptFields) -> str:
        """Return the truncated MAC digits of a receipt."""
        digest = hmac.new(self._key, fields.canonical(serial), hashlib.sha256).digest()
        # 64 bits reduced mod 10^7: the bias (< 10^7 / 2^64) is negligible.
        return str(int.from_bytes(digest[:8], "big") % 10**MAC_DIGITS).zfill(MAC_DIGITS)

    def issue(self, serial: int, fields: ReceiptFields) -> str:
        """Return the grouped code of receipt `serial` with `fields`."""
        if serial < 0:
            raise ValueError("serial must be >= 0")
        body = str(serial).zfill(SERIAL_MIN_DIGITS) + self.mac(serial, fields)
        return group(body + check_digit(body))

    @staticmethod
    def parse(code: str) -> ParsedCode | None:
        """Return the serial and MAC of a well-typed code, None when mistyped."""
        digits = normalize(code)
        if digits is None or check_digit(digits) != "0":
            return None
        return ParsedCode(serial=int(digits[: -MAC_DIGITS - 1]), mac=digits[-MAC_DIGITS - 1 : -1])

    def authenticates(self, code: str, fields: ReceiptFields) -> bool:
        """Tell, offline, whether `code` was issued by the key holder for exactly `fields`."""
        parsed = self.parse(code)
        if parsed is None:
            return False
        return hmac.compare_digest(parsed.mac, self.mac(parsed.serial, fields))


class VerificationStatus(StrEnum):
    """The three answers a verifier gives."""

    VALID = "valid"
    UNKNOWN = "unknown"  # well typed but not issued by us (or forged)
    MISTYPED = "mistyped"  # the check digit or the shape is wrong: a typo


@dataclass(frozen=True, slots=True)
class Verification:
    """The answer to "is this receipt code genuine?", with the receipt when it is."""

    status: VerificationStatus
    code: str
    amount: int | None = None
    currency: str | None = None
    tax: str | None = None
    reference: str | None = None
    date: date | None = None
    kind: str | None = None  # tax_assessment, request_fee, ... (tax: the item code)


ReceiptLookup = Callable[[int], "ReceiptFields | None"]


class ReceiptVerifier:
    """Answer valid / unknown / mistyped for a code typed by a citizen or an agent."""

    def __init__(self, codec: ReceiptCodec, lookup: ReceiptLookup) -> None:
        self._codec = codec
        self._lookup = lookup

    def verify(self, code: str) -> Verification:
        """Check the code's shape and check digit, then its MAC over the stored receipt."""
        digits = normalize(code)
        shown = group(digits) if digits else code.strip()[:40]
        parsed = self._codec.parse(code)
        if parsed is None:
            return Verification(VerificationStatus.MISTYPED, shown)
        fields = self._lookup(parsed.serial)
        if fields is None or not hmac.compare_digest(
            parsed.mac, self._codec.mac(parsed.serial, fields)
        ):
            return Verification(VerificationStatus.UNKNOWN, shown)
        return Verification(
            VerificationStatus.VALID,
            shown,
            amount=fields.amount,
            currency=fields.currency,
            tax=fields.tax,
            reference=fields.reference,
            date=fields.date,
            kind=fields.kind,
        )
