"""One guard for every JSON body the edge receives: too deep is a 400, before any view parses it.

Python's `json` parser recurses once per nesting level: a body of 5 000 `[` raises
RecursionError, which no view's `except ValueError` catches (a 500), and a payment callback
stored that way crashed the job that parsed it. So before any view runs, a body that is JSON
(declared so, or starting with `{` or `[`; form posts are not) is scanned without recursion
and refused with `400 {"error": "malformed_json", ...}` when it nests deeper than
`MAX_JSON_DEPTH`. Its size is already capped by MAX_REQUEST_BYTES (413, gateway/errors.py).

Payment callbacks are the exception: their view checks the depth itself, after their token,
so that a malformed callback from a caller holding the token is stored and held for review
(answered 400 in the provider's shape), and one without the token is a 403 like any other
(gateway/payments_callbacks.py).
"""

from __future__ import annotations

import re
from typing import Final

from flask import Flask, request

from gateway.errors import MalformedJsonError

# Deeper than any request or callback we accept (a Daraja callback nests 6 levels).
MAX_JSON_DEPTH: Final = 32
TOO_DEEP: Final = f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels of arrays and objects"
_FORMS: Final = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# A JSON string (escapes included) or one bracket; strings are skipped whole.
_TOKEN: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_OPENERS: Final = frozenset(b"[{")
_JSON_START: Final = re.compile(rb"\A\s*[\[{]")
# Checked by their own view, after the token (see above).
_OWN_CHECK_PREFIX: Final = "/payments/"


def install(app: Flask) -> None:
    """Check every JSON request body of `app` before its view runs."""
    app.before_request(_check_json_body)


def nesting_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """Return how deep `body` nests arrays and objects, counting no further than `limit` + 1."""
    depth = deepest = 0
    for match in _TOKEN.finditer(body):
        token = match.group()
        if len(token) != 1:
            continue  # a string: brackets inside it are text
        if token[0] in _OPENERS:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def too_deep(body: bytes) -> bool:
    """Return True when `body` nests deeper than MAX_JSON_DEPTH (whatever its content type)."""
    return nesting_depth(body) > MAX_JSON_DEPTH


def _check_json_body() -> None:
    if request.mimetype in _FORMS or request.path.startswith(_OWN_CHECK_PREFIX):
        return
    if not request.content_length and "chunked" not in request.headers.get("Transfer-Encoding", ""):
        return
    # Cached: the view reads the same bytes (get_json, get_data); over MAX_REQUEST_BYTES, 413.
    body = request.get_data(cache=True)
    if not (request.is_json or _JSON_START.match(body)):
        return
    if too_deep(body):
        raise MalformedJsonError(TOO_DEEP)
