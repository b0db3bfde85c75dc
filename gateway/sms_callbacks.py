"""Africa's Talking SMS callbacks: inbound messages and delivery reports.

Thin: parse the form, store it once (dedupe on `id`), enqueue a job, answer 200. Payloads we
cannot use are answered 200 too (logged), or AT would retry them for hours; only a Redis
outage answers 503, so that AT retries what we could not store.

Inbound sample:  from=+243810000001&to=12345&text=STATUT 12345674&date=2025-01-31 10:00:00
                 &id=8a7e...&linkId=...&networkCode=63001
Delivery sample: id=ATXid_...&status=Success&phoneNumber=+243810000001&networkCode=63001
                 &failureReason=&retryCount=0
"""

from __future__ import annotations

import hmac
import logging

import redis
from flask import Blueprint, Response, current_app, jsonify, request

from gateway.config import Settings
from sms.callbacks import CallbackError, CallbackInbox, Kind

log = logging.getLogger(__name__)

blueprint = Blueprint("sms_callbacks", __name__)


@blueprint.post("/sms/africastalking/inbound")
def inbound() -> tuple[Response, int]:
    """Accept one inbound SMS."""
    return _accept("inbound")


@blueprint.post("/sms/africastalking/delivery")
def delivery() -> tuple[Response, int]:
    """Accept one delivery report."""
    return _accept("delivery")


def _accept(kind: Kind) -> tuple[Response, int]:
    services = current_app.extensions["guichet"]
    token = services.get(Settings).sms_callback_token
    presented = request.args.get("token", "")
    if token and not hmac.compare_digest(presented.encode(), token.encode()):
        return jsonify(error="forbidden", message="unknown callback token"), 403
    try:
        accepted = services.get(CallbackInbox).accept(kind, request.form)
    except CallbackError as error:
        log.warning("sms %s callback ignored: %s", kind, error)
        return jsonify(status="ignored", reason=str(error)), 200
    except redis.RedisError:
        log.error("sms %s callback: Redis unavailable, asking AT to retry", kind)
        return jsonify(error="unavailable"), 503
    return jsonify(status="accepted" if accepted.new else "duplicate"), 200
