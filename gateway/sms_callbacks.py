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

import logging

import redis
from flask import Blueprint, Response, current_app, jsonify, request

from gateway.callback_auth import callback_route
from runtime.logs import outage
from sms.callbacks import CallbackError, CallbackInbox, Kind

log = logging.getLogger(__name__)

blueprint = Blueprint("sms_callbacks", __name__)


@callback_route(blueprint, "/sms/africastalking/inbound", "sms")
def inbound() -> tuple[Response, int]:
    """Accept one inbound SMS."""
    return _accept("inbound")


@callback_route(blueprint, "/sms/africastalking/delivery", "sms")
def delivery() -> tuple[Response, int]:
    """Accept one delivery report."""
    return _accept("delivery")


def _accept(kind: Kind) -> tuple[Response, int]:
    services = current_app.extensions["guichet"]
    try:
        accepted = services.get(CallbackInbox).accept(kind, request.form)
    except CallbackError as error:
        log.warning("sms %s callback ignored: %s", kind, error)
        return jsonify(status="ignored", reason=str(error)), 200
    except redis.RedisError:
        log.error(
            "sms %s callback: Redis unavailable, asking AT to retry", kind, extra=outage("redis")
        )
        return jsonify(error="unavailable", message="try again later"), 503
    if accepted.limited:
        # 200 all the same: AT must not retry a message we chose to drop.
        log.warning("sms %s callback %s dropped: phone over its rate", kind, accepted.callback_id)
        return jsonify(status="ignored", reason="rate limited"), 200
    return jsonify(status="accepted" if accepted.new else "duplicate"), 200
