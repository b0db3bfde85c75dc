"""`GET /api/v1/receipts/<code>`: an agent checks a receipt code (valid / unknown / mistyped)."""

from __future__ import annotations

import time
from typing import Final

import redis
from flask import Blueprint, Response, current_app, g, jsonify

from gateway.auth import require_api_key
from payments.receipts import ReceiptVerifier, VerificationStatus

blueprint = Blueprint("api_receipts", __name__)

# Caps brute force through a leaked agent key: at 60/min one valid code takes ~58 days (README).
PER_MINUTE: Final = 60

_STATUS_CODES = {
    VerificationStatus.VALID: 200,
    VerificationStatus.UNKNOWN: 404,
    VerificationStatus.MISTYPED: 400,
}


@blueprint.get("/api/v1/receipts/<path:code>")
@require_api_key("agent")
def verify_receipt(code: str) -> Response:
    """Answer whether `code` is a receipt the city issued, with its fields when it is."""
    if not _within_rate(g.api_key.key_id):
        response = jsonify(error="rate_limited", message=f"at most {PER_MINUTE} checks a minute")
        response.status_code = 429
        response.headers["Retry-After"] = "60"
        return response
    verification = current_app.extensions["guichet"].get(ReceiptVerifier).verify(code[:64])
    payload: dict[str, object] = {"status": verification.status.value, "code": verification.code}
    if verification.status is VerificationStatus.VALID:
        assert verification.date is not None
        payload.update(
            amount=verification.amount,
            currency=verification.currency,
            tax=verification.tax,
            reference=verification.reference,
            date=verification.date.isoformat(),
        )
    response = jsonify(payload)
    response.status_code = _STATUS_CODES[verification.status]
    return response


def _within_rate(key_id: str) -> bool:
    client = current_app.extensions["guichet"].get(redis.Redis)
    window = f"payments:receipt-api:{key_id}:{int(time.time() // 60)}"
    try:
        pipe = client.pipeline()
        pipe.incr(window)
        pipe.expire(window, 120)
        count, _ = pipe.execute()
    except redis.RedisError:
        return True  # the MAC, not the limiter, is the defence; keep agents working
    return int(count) <= PER_MINUTE
