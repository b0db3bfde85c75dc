"""Serve `POST /ussd/africastalking[/t/<token>]` in front of Flask, from the WSGI environ.

A hop is the one request aggregators send by the thousand; Flask's request context, routing
and Request/Response objects were a quarter of its CPU. This layer answers it with the same
rules as the rest of the edge (the request body cap, the callback gate, `UssdHop`), and hands
every other request, including other methods on the same path, to Flask untouched (whose error
handlers answer those with a clean `END`, gateway/errors.py). It is the only USSD path: no
Flask view serves hops, so `ROUTES` lists what it answers beside Flask's url_map.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.routing import Map, Rule
from werkzeug.wsgi import get_content_length, get_input_stream

from gateway.africastalking import MAX_BODY_BYTES, REPLY_CONTENT_TYPE
from gateway.callback_auth import TOKEN_SEGMENT, CallbackGate, Channel
from gateway.ussd import UssdHop
from runtime import Container

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

HOP_PATH: Final = "/ussd/africastalking"
HOP_ENDPOINT: Final = "ussd.africastalking"
CHANNEL: Final[Channel] = "ussd"  # whose callback token and allowlist guard the hop
_TOKEN_PREFIX: Final = HOP_PATH + "/t/"
_EXTENSION: Final = "guichet.ussd_hop"
# What the fast path answers, as werkzeug rules: the route inventory (the hardening tests walk
# it with Flask's url_map) lists the hop although no Flask view serves it.
ROUTES: Final = Map(
    [
        Rule(path, endpoint=HOP_ENDPOINT, methods=["POST"])
        for path in (HOP_PATH, HOP_PATH + TOKEN_SEGMENT)
    ]
)


def install(app: Flask, services: Container, max_request_bytes: int) -> None:
    """Put the USSD fast path in front of `app`, answering hops with one `UssdHop`."""
    hop = UssdHop(services)
    app.extensions[_EXTENSION] = hop
    app.wsgi_app = UssdFastPath(  # type: ignore[method-assign]
        app.wsgi_app, hop, services.get(CallbackGate), max_request_bytes
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
        self, app: WSGIApplication, hop: UssdHop, gate: CallbackGate, max_request_bytes: int
    ) -> None:
        self.app = app
        self._hop = hop
        self._gate = gate
        self._max_request_bytes = max_request_bytes

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer a hop, or let Flask answer the request."""
        if environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        path: str = environ.get("PATH_INFO", "")
        if path == HOP_PATH:
            presented = None
        elif path.startswith(_TOKEN_PREFIX) and "/" not in path[len(_TOKEN_PREFIX) :]:
            raw = path[len(_TOKEN_PREFIX) :]
            if not raw:
                return self.app(environ, start_response)  # Flask's 404, as before
            # WSGI hands the path as latin-1 text; werkzeug reads it back as UTF-8.
            presented = raw.encode("latin-1").decode("utf-8", "replace")
        else:
            return self.app(environ, start_response)
        try:
            status, body = self._serve(environ, presented)
        except Exception:
            # Flask would have turned this into its clean END; never a trace to the aggregator.
            log.exception("ussd: fast path failed")
            status, body = "200 OK", self._hop.before_engine(500)
        start_response(
            status, [("Content-Type", REPLY_CONTENT_TYPE), ("Content-Length", str(len(body)))]
        )
        return [body]

    def _serve(self, environ: WSGIEnvironment, presented: str | None) -> tuple[str, bytes]:
        length = get_content_length(environ)
        # The app-wide body cap (gateway/errors.py) comes first, as Flask's before_request did.
        if length is not None and length > self._max_request_bytes:
            return "200 OK", self._hop.before_engine(413)
        if presented is None:
            presented = _query_token(environ.get("QUERY_STRING", ""))
        admitted = self._gate.admits(
            CHANNEL, presented, environ.get("REMOTE_ADDR"), EnvironHeaders(environ)
        )
        if not admitted:
            return "403 FORBIDDEN", self._hop.refused()
        return "200 OK", self._hop.answer(_read_body(environ, length), environ.get("CONTENT_TYPE"))


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
    return chunk
