"""OTP API for the city's web portal and USSD flows: ask for a code, verify a code.

Verification answers the same body for a wrong, expired, locked-out or unknown code.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

import phonenumbers
import redis
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from gateway.auth import require_api_key
from sms.otp import OtpError, OtpService

log = logging.getLogger(__name__)

blueprint = Blueprint("api_otp", __name__, url_prefix="/api/v1/otp")


# E.164 exactly, as docs/openapi/otp.yaml says: phonenumbers alone also takes spaces and stray
# punctuation ("+243810000000*"), which a portal sending a wrong field should hear about.
E164: Final = re.compile(r"^\+[1-9][0-9]{6,14}$")


class _BadInput(ValueError):
    pass


@blueprint.post("")
@require_api_key("portal")
def issue() -> tuple[Response, int]:
    """Send a one-time code to `phone` for `purpose`."""
    try:
        phone, purpose = _phone_and_purpose(_json())
        result = _service().issue(phone, purpose)
    except (_BadInput, OtpError) as error:
        return jsonify(error="invalid_request", message=str(error)), 400
    except (redis.RedisError, SQLAlchemyError):
        # The database too: a 202 means the message log has the row (sms.message_log).
        return jsonify(error="unavailable", message="try again later"), 503
    if result.refused:
        return jsonify(error="invalid_request", message="phone: cannot receive SMS codes"), 400
    if not result.sent:
        response = jsonify(
            error="too_many_requests",
            message="a code was sent to this phone recently; ask again later",
            retry_after=result.retry_after,
        )
        response.headers["Retry-After"] = str(max(1, result.retry_after))
        return response, 429
    return jsonify(status="sent", expires_in=300, resend_after=result.retry_after), 202


@blueprint.post("/verify")
@require_api_key("portal")
def verify() -> tuple[Response, int]:
    """Check a code: `{"valid": true}` once, `{"valid": false}` for every other case."""
    try:
        payload = _json()
        phone, purpose = _phone_and_purpose(payload)
        code = payload.get("code")
        if not isinstance(code, str) or len(code) > 16:
            raise _BadInput("code: a string of digits")
        valid = _service().verify(phone, purpose, code)
    except (_BadInput, OtpError) as error:
        return jsonify(error="invalid_request", message=str(error)), 400
    except redis.RedisError:
        return jsonify(error="unavailable", message="try again later"), 503
    return jsonify(valid=valid), 200


def _service() -> OtpService:
    service: OtpService = current_app.extensions["guichet"].get(OtpService)
    return service


def _json() -> dict[str, Any]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise _BadInput("body: a JSON object is required")
    return payload


def _phone_and_purpose(payload: dict[str, Any]) -> tuple[str, str]:
    phone, purpose = payload.get("phone"), payload.get("purpose")
    if not isinstance(phone, str) or not isinstance(purpose, str):
        raise _BadInput("phone and purpose are required strings")
    if not E164.match(phone):
        raise _BadInput("phone: E.164, e.g. +243810000001")
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        raise _BadInput("phone: E.164, e.g. +243810000001") from None
    if not phonenumbers.is_valid_number(number):
        raise _BadInput("phone: E.164, e.g. +243810000001")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), purpose
