"""Request references: seven digits and a Damm check digit, checked before any lookup.

Why Damm: it catches every single-digit substitution and every transposition of two adjacent
digits (Luhn misses 09 <-> 90), needs no table of permutations as Verhoeff does, and its check
digit is always a digit, so a reference is typeable on any keypad.
"""

from __future__ import annotations

import secrets
from typing import Final

BODY_LENGTH: Final = 7
REFERENCE_LENGTH: Final = BODY_LENGTH + 1

# A totally anti-symmetric quasigroup of order 10 with a zero diagonal (Damm, 2004).
_DAMM: Final = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def _interim(digits: str) -> int:
    interim = 0
    for char in digits:
        interim = _DAMM[interim][ord(char) - 48]
    return interim


def check_digit(body: str) -> str:
    """Return the Damm check digit of a string of digits."""
    if not body.isascii() or not body.isdigit():
        raise ValueError("a reference body is made of digits")
    return str(_interim(body))


def make_reference(body: int) -> str:
    """Return the reference for a seven-digit body (1000000-9999999)."""
    if not 10 ** (BODY_LENGTH - 1) <= body < 10**BODY_LENGTH:
        raise ValueError(f"a reference body has {BODY_LENGTH} digits")
    text = str(body)
    return text + check_digit(text)


def new_reference() -> str:
    """Return a fresh random reference (unguessable, so a stranger cannot walk the list)."""
    low = 10 ** (BODY_LENGTH - 1)
    return make_reference(low + secrets.randbelow(10**BODY_LENGTH - low))


def validate(ref: str) -> bool:
    """Return whether `ref` is a well-formed reference whose check digit matches."""
    return (
        len(ref) == REFERENCE_LENGTH
        and ref.isascii()
        and ref.isdigit()
        and ref[0] != "0"
        and _interim(ref) == 0
    )
