"""USSD callbacks: parse the aggregator's form, let the engine answer, reply CON/END.

Whatever arrives, the aggregator gets a 200 with a well-formed `END` at worst: any other
answer hangs the citizen's phone on a "connection problem" with no explanation.

`UssdHop` holds the whole answer (parse, engine, fallbacks, metrics) without any web
framework. The one path that serves it, `POST /ussd/africastalking[/t/<token>]`, is
`gateway.ussd_wsgi.UssdFastPath` in front of Flask (no request context on the hot path).
"""

from __future__ import annotations

import logging
import time

import redis

from gateway.africastalking import UssdParseError, format_reply, parse_callback
from gateway.metrics import Metrics
from menus.hop import HopHandler, UssdReply
from menus.model import MenuSpec
from runtime import Container
from runtime.logs import outage, person

log = logging.getLogger(__name__)


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
