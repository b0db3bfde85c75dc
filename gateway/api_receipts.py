"""`GET /api/v1/receipts/<code>`: an agent checks a receipt code (valid / unknown / mistyped)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, g, jsonify
from sqlalchemy.exc import SQLAlchemyError

from civic.ports import Backend, CivicError
from gateway.auth import require_api_key
from gateway.limits import RECEIPT_CHECKS, ApiLimits, too_many
from payments.paid_for import described, paid_for_receipt
from payments.receipts import ReceiptVerifier, VerificationStatus
from runtime.logs import outage

log = logging.getLogger(__name__)

blueprint = Blueprint("api_receipts", __name__)

_STATUS_CODES = {
    VerificationStatus.VALID: 200,
    VerificationStatus.UNKNOWN: 404,
    VerificationStatus.MISTYPED: 400,
}


@blueprint.get("/api/v1/receipts/<path:code>")
@require_api_key("agent")
def verify_receipt(code: str) -> Response:
    """Answer whether `code` is a receipt the city issued, with its fields when it is."""
    services = current_app.extensions["guichet"]
    # Fails open: the MAC, not the limiter, is the defence; keep agents working.
    decision = services.get(ApiLimits).receipt_checks.take(g.api_key.key_id)
    if not decision.allowed:
        return too_many(decision, f"at most {RECEIPT_CHECKS.count} checks a minute")
    try:
        verification = services.get(ReceiptVerifier).verify(code[:64])
    except SQLAlchemyError as error:
        log.error(
            "receipt check: database unavailable: %s",
            type(error).__name__,
            extra=outage("database"),
        )
        response = jsonify(error="unavailable", message="try again later")
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    payload: dict[str, object] = {"status": verification.status.value, "code": verification.code}
    if verification.status is VerificationStatus.VALID:
        assert verification.date is not None
        kind = verification.kind or "tax_assessment"  # codes issued before kinds
        payload.update(
            amount=verification.amount,
            currency=verification.currency,
            tax=verification.tax,
            reference=verification.reference,
            date=verification.date.isoformat(),
            kind=kind,
        )
        payload.update(_what(kind, verification.tax or "", verification.reference))
    response = jsonify(payload)
    response.status_code = _STATUS_CODES[verification.status]
    return response


def _what(kind: str, item_code: str, reference: str | None) -> dict[str, object]:
    """Return `what` was paid per language; none when the back office cannot say right now."""
    backend: Backend = current_app.extensions["guichet"].get(Backend)
    try:
        names = described(backend, paid_for_receipt(kind, item_code, reference or ""))
    except CivicError:
        return {}  # the receipt is valid whatever the catalogue says; `tax` still names it
    return {"what": names} if names else {}
