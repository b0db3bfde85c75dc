"""USSD callbacks: parse the aggregator's form, let the engine answer, reply CON/END.

Whatever arrives, the aggregator gets a 200 with a well-formed `END` at worst: any other
answer hangs the citizen's phone on a "connection problem" with no explanation.
"""

from __future__ import annotations

import logging
import time

import redis
from flask import Blueprint, Response, current_app, request

from gateway.africastalking import (
    MAX_BODY_BYTES,
    REPLY_CONTENT_TYPE,
    UssdParseError,
    format_reply,
    parse_callback,
)
from gateway.app import services_of
from gateway.callback_auth import callback_route
from gateway.metrics import Metrics
from menus.hop import HopHandler, UssdReply
from menus.model import MenuSpec
from runtime.logs import person

log = logging.getLogger(__name__)

blueprint = Blueprint("ussd", __name__)


def _refused() -> Response:
    # A caller without the USSD token: 403, and still a body a phone could show.
    reply = services_of(current_app).get(HopHandler).bad_request()
    return Response(format_reply(reply), status=403, content_type=REPLY_CONTENT_TYPE)


@callback_route(blueprint, "/ussd/africastalking", "ussd", refuse=_refused)
def africastalking() -> Response:
    """Answer one Africa's Talking USSD hop."""
    started = time.perf_counter()
    services = services_of(current_app)
    hop = services.get(HopHandler)
    try:
        body = _read_body()
        hop_request = parse_callback(
            body, request.content_type, services.get(MenuSpec).city.country
        )
    except UssdParseError as error:
        log.warning("ussd: malformed callback (%s)", error)
        return _reply(hop.bad_request(), services.get(Metrics), started)
    try:
        reply = hop.handle(hop_request)
    except redis.RedisError:
        log.error("ussd: Redis unavailable for %s", person(hop_request.msisdn))
        reply = hop.unavailable()
    except Exception:
        # The engine maps known failures itself; this is the last net under the citizen.
        log.exception("ussd: hop failed for %s", person(hop_request.msisdn))
        reply = hop.unavailable()
    return _reply(reply, services.get(Metrics), started)


def _read_body() -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise UssdParseError("body", "too large")
    # Read one byte past the cap so a body without Content-Length is still bounded.
    return request.stream.read(MAX_BODY_BYTES + 1)


def _reply(reply: UssdReply, metrics: Metrics, started: float) -> Response:
    response = Response(format_reply(reply), status=200, content_type=REPLY_CONTENT_TYPE)
    # In memory only (gateway/metrics.py): no Redis round trip on the hop path.
    outcome = reply.outcome or ("end" if reply.end else "con")
    metrics.hop(reply.screen, outcome, time.perf_counter() - started)
    if outcome == "rate_limited":
        metrics.rejected("ussd_hops")
    return response
