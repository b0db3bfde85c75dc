"""USSD callbacks: the adapter parses the aggregator's hop, the engine answers, the adapter replies.

Whatever arrives, the aggregator gets an answer its phone can show: at worst a polite END
(Africa's Talking: always a 200, since it shows "connection problem" for any other status;
the JSON aggregators: 400/413 for a malformed or oversized hop, with the END in their shape),
never a 500.

`UssdHop` holds the whole answer (parse, engine, fallbacks, metrics) without any web
framework, for every protocol (gateway/aggregators/). The one path that serves it,
`POST /ussd/<adapter>[/t/<token>]`, is `gateway.ussd_wsgi.UssdFastPath` in front of Flask (no
request context on the hot path).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

import redis

from gateway.africastalking import UssdParseError
from gateway.aggregators import Adapter, Callback
from gateway.aggregators.base import CLOSED
from gateway.metrics import Metrics
from menus.hop import HopHandler, UssdReply
from menus.model import MenuSpec
from runtime import Container
from runtime.logs import outage, person

log = logging.getLogger(__name__)

Answer = tuple[HTTPStatus, bytes]
_NO_ECHO: Final[Mapping[str, Any]] = {}


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

    def answer(self, adapter: Adapter, callback: Callback | None) -> Answer:
        """Return the status and reply body of one hop (`callback` None: body too large)."""
        started = time.perf_counter()
        hop, metrics = self._resolve()
        if callback is None:
            return self.before_engine(adapter, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        try:
            parsed = adapter.parse(callback, self._country)
        except UssdParseError as error:
            log.warning("ussd %s: malformed callback (%s)", adapter.name, error)
            reply = hop.bad_request()
            body = _count(adapter, reply, _NO_ECHO, metrics, started)
            return adapter.status(HTTPStatus.BAD_REQUEST), body
        hop_request = parsed.request
        if hop_request is None:
            # The aggregator closed the session itself (Hubtel Timeout): nothing to show; the
            # stored session expires, and its resume snapshot serves a redial.
            return HTTPStatus.OK, _count(adapter, CLOSED, parsed.echo, metrics, started)
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
        return HTTPStatus.OK, _count(adapter, reply, parsed.echo, metrics, started)

    def refused(self, adapter: Adapter) -> Answer:
        """Return the 403 of a refused caller: still something a phone could show."""
        body = adapter.render(self._resolve()[0].bad_request(), _NO_ECHO)
        return adapter.status(HTTPStatus.FORBIDDEN), body

    def before_engine(self, adapter: Adapter, status: HTTPStatus) -> Answer:
        """Return the END for a hop refused before the engine with HTTP `status`."""
        hop = self._resolve()[0]
        log.warning("ussd %s: request refused before the engine (HTTP %s)", adapter.name, status)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            # Never a 5xx to an aggregator: an outage is a polite END it shows.
            return HTTPStatus.OK, adapter.render(hop.unavailable(), _NO_ECHO)
        return adapter.status(status), adapter.render(hop.bad_request(), _NO_ECHO)


def _count(
    adapter: Adapter, reply: UssdReply, echo: Mapping[str, Any], metrics: Metrics, started: float
) -> bytes:
    body = adapter.render(reply, echo)
    # In memory only (gateway/metrics.py): no Redis round trip on the hop path.
    outcome = reply.outcome or ("end" if reply.end else "con")
    metrics.hop(reply.screen, outcome, time.perf_counter() - started)
    if outcome == "rate_limited":
        metrics.rejected("ussd_hops")
    return body
