"""Logging for every Guichet process (web factory and rq worker): JSON lines on stderr."""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

import redis
import requests
import sqlalchemy.exc

from gateway.config import Settings
from runtime import logs

# Exceptions that mean a dependency is down or refusing, not a bug: while one lasts, its lines
# are rate-limited (runtime/logs.py OutageFilter), one per place per interval with a count.
OUTAGE_CAUSES: Final[tuple[type[BaseException], ...]] = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.TimeoutError,
    requests.ConnectionError,
    requests.Timeout,
)


def ref_key(settings: Settings) -> bytes:
    """Return the key of log correlation hashes: LOG_REF_KEY, else derived from OTP_KEY."""
    if settings.log_ref_key:
        return settings.log_ref_key.encode()
    # Production requires OTP_KEY, so a production process always has a secret key here;
    # a derived key keeps log refs unrelated to stored OTP hashes.
    base = settings.otp_key or "guichet-development"
    return hmac.new(base.encode(), b"log-phone-ref", hashlib.sha256).digest()


def configure_logging(settings: Settings) -> None:
    """Install the JSON handler at LOG_LEVEL with this deployment's key; outages rate-limited."""
    logs.configure(settings.log_level, ref_key=ref_key(settings), outage_causes=OUTAGE_CAUSES)
