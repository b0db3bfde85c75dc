"""SMS callbacks of every provider: inbound messages and delivery reports.

Thin: read the provider's body into the fields sms.callbacks stores (each provider module's
`*_payload`), store each once (dedupe on its id), enqueue a job, answer 200. Payloads we cannot
use are answered 200 too (logged), or the provider would retry them for hours; a body that is
not the provider's format at all (not a JSON object where JSON is due) is a 400; only a Redis
outage answers 503, so that the provider retries what we could not store.

    /sms/africastalking/inbound|delivery   form (samples in sms/callbacks.py)
    /sms/twilio/inbound|delivery           form, X-Twilio-Signature checked (403 otherwise);
                                           inbound is answered with empty TwiML
    /sms/orange/inbound|delivery           OneAPI JSON notifications
    /sms/infobip/inbound|delivery          JSON `results[]`, several per POST

Each URL is behind SMS_CALLBACK_TOKEN like AT's (gateway/callback_auth.py); Twilio's also
behind its signature, computed over PUBLIC_BASE_URL + the path we were called on (the URL
Twilio was given), or the request's own URL when PUBLIC_BASE_URL is unset.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import redis
from flask import Blueprint, Response, current_app, jsonify, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from gateway.callback_auth import callback_route, forbidden_json
from gateway.config import Settings
from runtime.logs import outage
from sms.callbacks import AT, CallbackError, CallbackInbox, Kind
from sms.providers import infobip, orange, twilio

log = logging.getLogger(__name__)

blueprint = Blueprint("sms_callbacks", __name__)
SIGNATURE_HEADER: Final = "X-Twilio-Signature"

Reader = Callable[[Any], Sequence[Mapping[str, str]]]


@callback_route(blueprint, "/sms/africastalking/inbound", "sms")
def inbound() -> tuple[Response, int]:
    """Accept one inbound SMS."""
    return _accept("inbound", [request.form], AT)


@callback_route(blueprint, "/sms/africastalking/delivery", "sms")
def delivery() -> tuple[Response, int]:
    """Accept one delivery report."""
    return _accept("delivery", [request.form], AT)


@callback_route(blueprint, "/sms/twilio/inbound", "sms")
def twilio_inbound() -> tuple[Response, int]:
    """Accept one inbound SMS Twilio signed; answer empty TwiML (replies go by the API)."""
    if not _twilio_signed():
        return forbidden_json(), 403
    answer, status = _accept("inbound", [twilio.inbound_payload(request.form)], twilio.NAME)
    if status != 200:
        return answer, status
    return Response(str(MessagingResponse()), mimetype="text/xml"), 200


@callback_route(blueprint, "/sms/twilio/delivery", "sms")
def twilio_delivery() -> tuple[Response, int]:
    """Accept one status callback Twilio signed."""
    if not _twilio_signed():
        return forbidden_json(), 403
    return _accept("delivery", [twilio.delivery_payload(request.form)], twilio.NAME)


@callback_route(blueprint, "/sms/orange/inbound", "sms")
def orange_inbound() -> tuple[Response, int]:
    """Accept one OneAPI inboundSMSMessageNotification."""
    return _accept_json("inbound", lambda body: [orange.inbound_payload(body)], orange.NAME)


@callback_route(blueprint, "/sms/orange/delivery", "sms")
def orange_delivery() -> tuple[Response, int]:
    """Accept one OneAPI deliveryInfoNotification."""
    return _accept_json("delivery", lambda body: [orange.delivery_payload(body)], orange.NAME)


@callback_route(blueprint, "/sms/infobip/inbound", "sms")
def infobip_inbound() -> tuple[Response, int]:
    """Accept the inbound messages of one Infobip POST."""
    return _accept_json("inbound", infobip.inbound_payloads, infobip.NAME)


@callback_route(blueprint, "/sms/infobip/delivery", "sms")
def infobip_delivery() -> tuple[Response, int]:
    """Accept the delivery reports of one Infobip POST."""
    return _accept_json("delivery", infobip.delivery_payloads, infobip.NAME)


def _twilio_signed() -> bool:
    settings: Settings = current_app.config["SETTINGS"]
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not settings.twilio_auth_token or not signature:
        log.warning(
            "sms twilio callback refused: %s",
            "no signature" if settings.twilio_auth_token else "TWILIO_AUTH_TOKEN unset",
        )
        return False
    url = request.url
    if settings.public_base_url:
        query = request.query_string.decode("latin-1")
        url = settings.public_base_url.rstrip("/") + request.path + (f"?{query}" if query else "")
    if RequestValidator(settings.twilio_auth_token).validate(url, request.form, signature):
        return True
    log.warning("sms twilio callback refused: X-Twilio-Signature does not match")
    return False


def _accept_json(kind: Kind, read: Reader, provider: str) -> tuple[Response, int]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="bad_body", message=f"a {provider} JSON object is expected"), 400
    return _accept(kind, read(body), provider)


def _accept(
    kind: Kind, payloads: Sequence[Mapping[str, str]], provider: str
) -> tuple[Response, int]:
    inbox = current_app.extensions["guichet"].get(CallbackInbox)
    verdicts: Counter[str] = Counter()
    reasons: list[str] = []
    for payload in payloads:
        try:
            accepted = inbox.accept(kind, payload, provider)
        except CallbackError as error:
            log.warning("sms %s %s callback ignored: %s", provider, kind, error)
            verdicts["ignored"] += 1
            reasons.append(str(error))
            continue
        except redis.RedisError:
            log.error(
                "sms %s %s callback: Redis unavailable, asking the provider to retry",
                provider,
                kind,
                extra=outage("redis"),
            )
            return jsonify(error="unavailable", message="try again later"), 503
        if accepted.limited:
            # 200 all the same: the provider must not retry a message we chose to drop.
            log.warning(
                "sms %s callback %s dropped: phone over its rate", kind, accepted.callback_id
            )
            verdicts["ignored"] += 1
            reasons.append("rate limited")
        else:
            verdicts["accepted" if accepted.new else "duplicate"] += 1
    if not payloads:
        return jsonify(status="ignored", reason="no message in the body"), 200
    # One POST may carry several (Infobip): the best verdict leads, the counts follow.
    status = next(s for s in ("accepted", "duplicate", "ignored") if verdicts[s])
    if len(payloads) == 1:
        if status == "ignored":
            return jsonify(status=status, reason=reasons[0]), 200
        return jsonify(status=status), 200
    return jsonify(status=status, counts=dict(verdicts), reasons=reasons[:10]), 200
