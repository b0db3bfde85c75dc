"""The per-phone budget of request lookups that found nothing this phone may see.

A reference typed on USSD or sent by SMS that is unknown, or someone else's, is a guess. Each
guess takes a token from the phone's bucket (RATE_REQUEST_GUESSES), within one USSD session
and across sessions and channels alike; once the bucket is empty every further lookup by
reference (except of the phone's own requests) is answered "too many tries, later". It protects
citizens' data, so it fails CLOSED when Redis is unreachable.
"""

from __future__ import annotations

import redis

from runtime.ratelimit import Decision, Rate, RateLimiter

DEFAULT_RATE = "10/3600"


class GuessLimiter:
    """Count a phone's unanswerable lookups by reference; refuse past its rate."""

    def __init__(self, client: redis.Redis, rate: Rate) -> None:
        self._limiter = RateLimiter(client, "request-guesses", rate, fail_open=False)

    @property
    def rate(self) -> Rate:
        """Return the configured rate."""
        return self._limiter.rate

    def guess(self, phone: str, *, now: float | None = None) -> Decision:
        """Charge one guess to `phone`; `allowed` is False once its budget is spent."""
        return self._limiter.take(phone, now=now)
