"""Rate limits of the JSON APIs: per client IP on every /api route, per key on receipt checks.

Both protect comfort (the back office, the receipt MAC is the real defence against guessing),
so both fail OPEN when Redis is down. An answer over the limit is 429 with `Retry-After`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import redis
from flask import Response, current_app, jsonify, request

from gateway.callback_auth import CallbackGate
from gateway.config import Settings
from runtime.ratelimit import Decision, Rate, RateLimiter

API_PREFIX: Final = "/api/"
# Caps brute force through a leaked agent key: at 60/min one valid code takes ~58 days (README).
RECEIPT_CHECKS: Final = Rate(60, 60)


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """The limiters of the JSON APIs."""

    per_ip: RateLimiter
    receipt_checks: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings, client: redis.Redis) -> ApiLimits:
        """Build the limiters from RATE_API_PER_IP and the receipt-check rate."""
        return cls(
            per_ip=RateLimiter(
                client, "api-ip", Rate.parse(settings.rate_api_per_ip), fail_open=True
            ),
            receipt_checks=RateLimiter(client, "receipt-api", RECEIPT_CHECKS, fail_open=True),
        )


def too_many(decision: Decision, message: str) -> Response:
    """Return the 429 answer of a refused API call."""
    response = jsonify(error="rate_limited", message=message, retry_after=decision.retry_after)
    response.status_code = 429
    response.headers["Retry-After"] = str(max(1, decision.retry_after))
    return response


def limit_api_per_ip() -> Response | None:
    """Refuse an /api request over its client IP's rate (a before_request hook)."""
    if not request.path.startswith(API_PREFIX):
        return None
    services = current_app.extensions["guichet"]
    client_ip = services.get(CallbackGate).clients.of(request.remote_addr, request.headers)
    limiter: RateLimiter = services.get(ApiLimits).per_ip
    decision = limiter.take(client_ip or "unknown")
    if decision.allowed:
        return None
    rate = limiter.rate
    return too_many(decision, f"at most {rate.count} requests every {rate.seconds:g} s per address")
