"""What may appear in a log line about a person: masked numbers and keyed correlation ids."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import Final

_MASK = "•"


def mask_phone(phone: str) -> str:
    """Mask an E.164 number for logs: `+243810000001` -> `+243 81•••••01`."""
    digits = phone.lstrip("+")
    if len(digits) < 8 or not digits.isdigit():
        return _MASK * 4
    # Country codes are 1-3 digits; showing 3 leading digits never reveals the subscriber.
    head, rest = digits[:3], digits[3:]
    return f"+{head} {rest[:2]}{_MASK * (len(rest) - 4)}{rest[-2:]}"


def phone_ref(phone: str, key: bytes, *, chars: int = 12) -> str:
    """Return a keyed, non-reversible id of `phone`: HMAC-SHA256, its first `chars` hex digits.

    The one keyed hash of a number: log correlation (12 digits, LOG_REF_KEY) and the key of
    the SMS preferences (32 digits, a key derived from OTP_KEY: sms.derived_keys)."""
    return hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()[:chars]


def mask_secret(_secret: str) -> str:
    """Return the placeholder logged instead of an OTP, token or key."""
    return "[redacted]"


# `?token=…` / `&token=…` and the `/t/<token>` path segment of our callback URLs.
_URL_SECRETS: Final = (
    (re.compile(r"([?&](?:token|api_key|key)=)[^&\s\"']*", re.IGNORECASE), r"\1[redacted]"),
    (re.compile(r"(/t/)[^/?\s\"']+"), r"\1[redacted]"),
)


def mask_url_secrets(text: str) -> str:
    """Replace the callback tokens a URL or a request line may carry with a placeholder."""
    for pattern, replacement in _URL_SECRETS:
        text = pattern.sub(replacement, text)
    return text


class UrlSecretFilter(logging.Filter):
    """Mask callback tokens in log records (werkzeug's, gunicorn's and granian's access lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without its URL secrets; never drop it."""
        message = record.getMessage()
        masked = mask_url_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


ACCESS_LOGGERS: Final = (
    "werkzeug",
    "gunicorn.access",
    "gunicorn.error",
    "granian.access",
    "_granian",
)


def install_url_secret_filter(names: tuple[str, ...] = ACCESS_LOGGERS) -> None:
    """Attach UrlSecretFilter once to the loggers that print request lines."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, UrlSecretFilter) for existing in logger.filters):
            logger.addFilter(UrlSecretFilter())
