"""USSD callbacks: parse the aggregator's form, let the engine answer, reply CON/END.

Whatever arrives, the aggregator gets a 200 with a well-formed `END` at worst: any other
answer hangs the citizen's phone on a "connection problem" with no explanation.

`UssdHop` holds the whole answer (parse, engine, fallbacks, metrics) without any web
framework. `POST /ussd/africastalking` is served by `gateway.ussd_wsgi.UssdFastPath` in front
of Flask (no request context on the hot path); the Flask view below keeps the rule in the URL
map (405s, the route inventory the hardening tests walk) and serves apps built without it.
"""

from __future__ import annotations

import logging
import time
from typing import Final

import redis
from flask import Blueprint, Flask, Response, current_app, request

from gateway.africastalking import (
    MAX_BODY_BYTES,
    REPLY_CONTENT_TYPE,
    UssdParseError,
    format_reply,
    parse_callback,
)
from gateway.callback_auth import callback_route
from gateway.metrics import Metrics
from menus.hop import HopHandler, UssdReply
from menus.model import MenuSpec
from runtime import Container
from runtime.logs import outage, person

log = logging.getLogger(__name__)

blueprint = Blueprint("ussd", __name__)
EXTENSION: Final = "guichet.ussd_hop"


class UssdHop:
    """Answer USSD hops from raw bytes; collaborators resolved once, on the first hop."""

    def __init__(self, services: Container) -> None:
        self._services = services
        self._hop: HopHandler | None = None
        self._metrics: Metrics | None = None
        self._country = ""

    def _resolve(self) -> tuple[HopHandler, Metrics]:
        # Lazily: building the app must not need the engine's collaborators yet.
        if self._hop is None or self._metrics is None:
            self._country = self._services.get(MenuSpec).city.country
            self._metrics = self._services.get(Metrics)
            self._hop = self._services.get(HopHandler)
        return self._hop, self._metrics

    def answer(self, body: bytes | None, content_type: str | None) -> bytes:
        """Return the reply body to one hop (`body` None: larger than MAX_BODY_BYTES)."""
        started = time.perf_counter()
        hop, metrics = self._resolve()
        try:
            if body is None:
                raise UssdParseError("body", "too large")
            hop_request = parse_callback(body, content_type, self._country)
        except UssdParseError as error:
            log.warning("ussd: malformed callback (%s)", error)
            return _count(hop.bad_request(), metrics, started)
        try:
            reply = hop.handle(hop_request)
        except redis.RedisError:
            log.error(
                "ussd: Redis unavailable for %s", person(hop_request.msisdn), extra=outage("redis")
            )
            reply = hop.unavailable()
        except Exception:
            # The engine maps known failures itself; this is the last net under the citizen.
            log.exception("ussd: hop failed for %s", person(hop_request.msisdn))
            reply = hop.unavailable()
        return _count(reply, metrics, started)

    def refused(self) -> bytes:
        """Return the body of a 403: still something a phone could show."""
        return format_reply(self._resolve()[0].bad_request()).encode()

    def before_engine(self, status: int) -> bytes:
        """Return the END for a hop refused before the engine with HTTP `status`."""
        hop = self._resolve()[0]
        log.warning("ussd: request refused before the engine (HTTP %s)", status)
        return format_reply(hop.unavailable() if status >= 500 else hop.bad_request()).encode()


def _count(reply: UssdReply, metrics: Metrics, started: float) -> bytes:
    body = format_reply(reply).encode()
    # In memory only (gateway/metrics.py): no Redis round trip on the hop path.
    outcome = reply.outcome or ("end" if reply.end else "con")
    metrics.hop(reply.screen, outcome, time.perf_counter() - started)
    if outcome == "rate_limited":
        metrics.rejected("ussd_hops")
    return body


def install(app: Flask, services: Container, max_request_bytes: int) -> None:
    """Put the USSD fast path in front of `app` and keep its `UssdHop` for the Flask view."""
    from gateway.callback_auth import CallbackGate  # noqa: PLC0415
    from gateway.ussd_wsgi import UssdFastPath  # noqa: PLC0415 - it imports this module

    hop = UssdHop(services)
    app.extensions[EXTENSION] = hop
    app.wsgi_app = UssdFastPath(  # type: ignore[method-assign]
        app.wsgi_app, hop, services.get(CallbackGate), max_request_bytes
    )


def hop_of(app: Flask) -> UssdHop:
    """Return the app's `UssdHop` (made on first use when `install` was not called)."""
    hop: UssdHop | None = app.extensions.get(EXTENSION)
    if hop is None:
        hop = UssdHop(app.extensions["guichet"])
        app.extensions[EXTENSION] = hop
    return hop


def _refused() -> Response:
    return Response(hop_of(current_app).refused(), status=403, content_type=REPLY_CONTENT_TYPE)


@callback_route(blueprint, "/ussd/africastalking", "ussd", refuse=_refused)
def africastalking() -> Response:
    """Answer one Africa's Talking USSD hop (when the fast path is not installed)."""
    length = request.content_length
    # Read one byte past the cap so a body without Content-Length is still bounded.
    body = (
        None
        if length is not None and length > MAX_BODY_BYTES
        else request.stream.read(MAX_BODY_BYTES + 1)
    )
    answer = hop_of(current_app).answer(body, request.content_type)
    return Response(answer, status=200, content_type=REPLY_CONTENT_TYPE)
