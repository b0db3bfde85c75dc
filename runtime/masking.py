"""What may appear in a log line about a person: masked numbers and keyed correlation ids."""

from __future__ import annotations

import hashlib
import hmac

_MASK = "•"


def mask_phone(phone: str) -> str:
    """Mask an E.164 number for logs: `+243810000001` -> `+243 81•••••01`."""
    digits = phone.lstrip("+")
    if len(digits) < 8 or not digits.isdigit():
        return _MASK * 4
    # Country codes are 1-3 digits; showing 3 leading digits never reveals the subscriber.
    head, rest = digits[:3], digits[3:]
    return f"+{head} {rest[:2]}{_MASK * (len(rest) - 4)}{rest[-2:]}"


def phone_ref(phone: str, key: bytes) -> str:
    """Return a keyed, non-reversible id of `phone` to correlate log lines about one person."""
    return hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()[:12]


def mask_secret(_secret: str) -> str:
    """Return the placeholder logged instead of an OTP, token or key."""
    return "[redacted]"
