"""Clean answers for requests that never reach a view, or whose view failed: never a trace.

JSON under /api, /sms and /payments (their callers read JSON); `END …` on the USSD hop URL,
always with a 200, because an aggregator shows a "connection problem" for anything else;
plain text everywhere else. Bodies larger than MAX_REQUEST_BYTES are refused before parsing.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Final

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed, RequestEntityTooLarge

from gateway.africastalking import REPLY_CONTENT_TYPE
from gateway.aggregators import AfricasTalking
from gateway.ussd_wsgi import hop_of

log = logging.getLogger(__name__)

JSON_PREFIXES: Final = ("/api/", "/sms/", "/payments/")
# The fast path (gateway/ussd_wsgi.py) answers POSTs to the hop URL; anything else there
# reaches Flask, has no route, and still gets an END: recognise the hop URL by its path.
_USSD_HOP_PATH: Final = re.compile(r"^/ussd/africastalking(?:/t/[^/]*)?/?$")
_AFRICAS_TALKING: Final = AfricasTalking()


class MalformedJsonError(BadRequest):
    """A JSON body refused before any view parsed it (gateway/json_bodies.py); says why."""

    name = "Malformed JSON"


def install(app: Flask, max_body_bytes: int) -> None:
    """Cap request bodies and register the error handlers on `app`."""
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.before_request(_refuse_large_bodies)
    # Also serves the 500 Flask makes of an unhandled exception once it has logged the trace
    # (tests propagate exceptions instead, so a failing view fails its test).
    app.register_error_handler(HTTPException, _http_error)


def _refuse_large_bodies() -> None:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    name = (error.name or "Error").lower().replace(" ", "_")
    if _USSD_HOP_PATH.match(request.path):
        return _ussd_end(status)
    if request.path.startswith(JSON_PREFIXES) or isinstance(error, MalformedJsonError):
        response = jsonify(error=name, message=describe(error))
        response.status_code = status
        _keep_allow_header(error, response)
        return response
    response = Response(f"{status} {error.name}\n", status=status, mimetype="text/plain")
    _keep_allow_header(error, response)
    return response


def _ussd_end(status: int) -> Response:
    _, body = hop_of(current_app).before_engine(_AFRICAS_TALKING, HTTPStatus(status))
    return Response(body, status=200, content_type=REPLY_CONTENT_TYPE)


def describe(error: HTTPException) -> str:
    """Return what a caller may read about `error`: ours say why, werkzeug's get a short line."""
    if isinstance(error, MalformedJsonError) and error.description:
        return error.description
    return _describe(error.code or 500)


def _describe(status: int) -> str:
    messages = {
        400: "the request is malformed",
        404: "no such resource",
        405: "method not allowed on this resource",
        413: "the request body is too large",
        500: "internal error; try again later",
    }
    return messages.get(status, "the request cannot be served")


def _keep_allow_header(error: HTTPException, response: Response) -> None:
    # A 405 answer must say which methods are allowed.
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
