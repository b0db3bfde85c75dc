"""Serve `POST /ussd/<adapter>[/t/<token>]` in front of Flask, from the WSGI environ.

A hop is the one request aggregators send by the thousand; Flask's request context, routing
and Request/Response objects were a quarter of its CPU. This layer answers every USSD
protocol (gateway/aggregators/) with the same rules as the rest of the edge (the request body
cap, the callback gate, `UssdHop`), and hands every other request, including other methods on
the same paths, to Flask untouched (whose error handlers answer those cleanly,
gateway/errors.py). It is the only USSD path: no Flask view serves hops, so `ROUTES` lists
what it answers beside Flask's url_map.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.routing import Map, Rule
from werkzeug.wsgi import get_content_length, get_input_stream

from gateway.africastalking import MAX_BODY_BYTES
from gateway.aggregators import ADAPTERS, Adapter, Callback, adapters
from gateway.callback_auth import TOKEN_SEGMENT, CallbackGate, Channel
from gateway.config import Settings
from gateway.ussd import Answer, UssdHop
from runtime import Container

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

PREFIX: Final = "/ussd/"
HOP_PATH: Final = PREFIX + "africastalking"
HOP_ENDPOINT: Final = "ussd.africastalking"
CHANNEL: Final[Channel] = "ussd"  # whose callback token and allowlist guard every hop
_TOKEN_SEP: Final = "/t/"  # noqa: S105 - a URL pattern, not a secret
_EXTENSION: Final = "guichet.ussd_hop"
_METHODS: Final = frozenset(method for cls in ADAPTERS for method in cls.methods)


def hop_path(name: str) -> str:
    """Return the callback path of the adapter called `name`."""
    return PREFIX + name


# What the fast path answers, as werkzeug rules: the route inventory (the hardening tests walk
# it with Flask's url_map) lists the hops although no Flask view serves them.
ROUTES: Final = Map(
    [
        Rule(path, endpoint="ussd." + cls.name, methods=sorted(cls.methods))
        for cls in ADAPTERS
        for path in (hop_path(cls.name), hop_path(cls.name) + TOKEN_SEGMENT)
    ]
)
HOP_ENDPOINTS: Final = frozenset("ussd." + cls.name for cls in ADAPTERS)


def install(app: Flask, services: Container, settings: Settings) -> None:
    """Put the USSD fast path in front of `app`, answering hops with one `UssdHop`."""
    hop = UssdHop(services)
    app.extensions[_EXTENSION] = hop
    app.wsgi_app = UssdFastPath(  # type: ignore[method-assign]
        app.wsgi_app,
        hop,
        services.get(CallbackGate),
        settings.max_request_bytes,
        adapters(settings),
    )


def hop_of(app: Flask) -> UssdHop:
    """Return the `UssdHop` that `install` put in front of `app`."""
    hop: UssdHop = app.extensions[_EXTENSION]
    return hop


class EnvironHeaders:
    """Read request headers straight from a WSGI environ (what `ClientAddress.of` needs)."""

    __slots__ = ("_environ",)

    def __init__(self, environ: WSGIEnvironment) -> None:
        self._environ = environ

    def get(self, key: str, /) -> str | None:
        """Return the header's value, or None."""
        value: str | None = self._environ.get("HTTP_" + key.upper().replace("-", "_"))
        return value


class UssdFastPath:
    """WSGI middleware: answer USSD hops itself, pass everything else to `app`."""

    def __init__(
        self,
        app: WSGIApplication,
        hop: UssdHop,
        gate: CallbackGate,
        max_request_bytes: int,
        served: Mapping[str, Adapter],
    ) -> None:
        self.app = app
        self._hop = hop
        self._gate = gate
        self._max_request_bytes = max_request_bytes
        # One dict lookup finds the adapter of a path without a token (the common case).
        self._paths = {hop_path(name): adapter for name, adapter in served.items()}
        self._adapters = dict(served)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer a hop, or let Flask answer the request."""
        method = environ.get("REQUEST_METHOD")
        if method not in _METHODS:
            return self.app(environ, start_response)
        path: str = environ.get("PATH_INFO", "")
        adapter = self._paths.get(path)
        presented = None
        if adapter is None:
            if not path.startswith(PREFIX):
                return self.app(environ, start_response)
            name, _, rest = path[len(PREFIX) :].partition(_TOKEN_SEP)
            adapter = self._adapters.get(name)
            if adapter is None or not rest or "/" in rest:
                return self.app(environ, start_response)  # Flask's 404, as before
            # WSGI hands the path as latin-1 text; werkzeug reads it back as UTF-8.
            presented = rest.encode("latin-1").decode("utf-8", "replace")
        if method not in adapter.methods:
            return self.app(environ, start_response)  # Flask's 405 (or END), as before
        try:
            status, body = self._serve(environ, adapter, presented)
        except Exception:
            # Flask would have turned this into its clean END; never a trace to the aggregator.
            log.exception("ussd: fast path failed")
            status, body = self._hop.before_engine(adapter, HTTPStatus.INTERNAL_SERVER_ERROR)
        start_response(
            f"{status.value} {status.phrase.upper()}",
            [("Content-Type", adapter.reply_content_type), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _serve(self, environ: WSGIEnvironment, adapter: Adapter, presented: str | None) -> Answer:
        length = get_content_length(environ)
        # The app-wide body cap (gateway/errors.py) comes first, as Flask's before_request did.
        if length is not None and length > self._max_request_bytes:
            return self._hop.before_engine(adapter, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        query: str = environ.get("QUERY_STRING", "")
        if presented is None:
            presented = _query_token(query)
        admitted = self._gate.admits(
            CHANNEL, presented, environ.get("REMOTE_ADDR"), EnvironHeaders(environ)
        )
        if not admitted:
            return self._hop.refused(adapter)
        body = _read_body(environ, length)
        callback = None
        if body is not None:
            callback = Callback(environ["REQUEST_METHOD"], body, environ.get("CONTENT_TYPE"), query)
        return self._hop.answer(adapter, callback)


def _query_token(query: str) -> str | None:
    if "token" not in query:
        return None
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "token":
            return value
    return None


def _read_body(environ: WSGIEnvironment, length: int | None) -> bytes | None:
    # None: larger than a callback can be (UssdHop answers it as malformed).
    if length is not None:
        if length > MAX_BODY_BYTES:
            return None
        stream: Any = environ["wsgi.input"]
        body: bytes = stream.read(length)
        return body
    # No length (chunked or absent): werkzeug's safe stream, read one byte past the cap.
    chunk: bytes = get_input_stream(environ).read(MAX_BODY_BYTES + 1)
    return chunk if len(chunk) <= MAX_BODY_BYTES else None
