"""What every USSD adapter is: parse the aggregator's hop into a `UssdRequest`, render a reply.

An adapter knows one aggregator's wire format and nothing else: the engine (menus.hop) and the
sessions stay protocol-free, the edge (gateway.ussd_wsgi, gateway.ussd) holds the callback gate,
the body cap and the fallbacks for all of them. Each adapter declares, beside its code, the
three facts of its protocol the engine depends on: whether input is cumulative (`1*2*3`) or
only the latest answer, how a new session is signalled, and how a retried hop is recognised.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, ClassVar, Final, TypeVar

import orjson

from gateway.africastalking import (
    MAX_BODY_BYTES,
    UssdParseError,
    check_service_code,
    check_text,
)
from menus.hop import UssdReply, UssdRequest

JSON_CONTENT_TYPE: Final = "application/json"
# What an aggregator that closed the session itself (Hubtel `Timeout`) is answered: no screen.
CLOSED: Final = UssdReply(end=True, body="", outcome="closed")
_BOOLEANS: Final = {True: True, False: False, "true": True, "false": False, "1": True, "0": False}
_MAX_SEQUENCE: Final = 10_000  # hops of one ~180 s session never get near this
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Callback:
    """One HTTP request of an aggregator, as the edge read it (`body` capped at MAX_BODY_BYTES)."""

    method: str
    body: bytes
    content_type: str | None
    query: str = ""


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed hop, and what its reply must repeat (Nalo's USERID, Arkesel's sessionID)."""

    request: UssdRequest | None  # None: the aggregator closed the session, nothing to show
    echo: Mapping[str, Any] = field(default_factory=dict)


class Adapter(abc.ABC):
    """One aggregator's USSD protocol, served at `POST /ussd/<name>[/t/<token>]`."""

    name: ClassVar[str]
    title: ClassVar[str]  # the aggregator's own name, for people
    methods: ClassVar[frozenset[str]] = frozenset({"POST"})
    reply_content_type: ClassVar[str] = JSON_CONTENT_TYPE
    # The three facts the engine depends on (also the README's table of aggregators).
    cumulative: bool = False
    new_session: ClassVar[str]
    retry: ClassVar[str]

    @abc.abstractmethod
    def parse(self, callback: Callback, region: str) -> Parsed:
        """Return the hop in `callback`; raise UssdParseError (naming a field) when malformed."""

    @abc.abstractmethod
    def render(self, reply: UssdReply, echo: Mapping[str, Any]) -> bytes:
        """Return the reply body the aggregator expects."""

    def status(self, status: HTTPStatus) -> HTTPStatus:
        """Return the HTTP status a refusal before the engine is answered with (400, 403, 413)."""
        # Their own error statuses; Africa's Talking overrides it (a 200 END shows best there).
        return status


def json_object(body: bytes) -> dict[str, Any]:
    """Return the JSON object in `body`; raise UssdParseError when it is not one."""
    if len(body) > MAX_BODY_BYTES:
        raise UssdParseError("body", "too large")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UssdParseError("body", "not JSON") from None
    if not isinstance(value, dict):
        raise UssdParseError("body", "not a JSON object")
    return value


def text_field(obj: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    """Return the string `obj[name]` ("" when absent and not required); raise when malformed."""
    value = obj.get(name)
    if value is None:
        if required:
            raise UssdParseError(name, "missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise UssdParseError(name, "not a string")
    return str(value)


def flag_field(obj: Mapping[str, Any], name: str) -> bool:
    """Return the boolean `obj[name]` (true/false, as JSON or as text); raise when malformed."""
    value = obj.get(name)
    key = value.strip().lower() if isinstance(value, str) else value
    try:
        return _BOOLEANS[key]
    except (KeyError, TypeError):  # missing, another value, or unhashable (a list)
        raise UssdParseError(name, "missing" if value is None else "not true or false") from None


def sequence_field(obj: Mapping[str, Any], name: str) -> int:
    """Return a hop's sequence number (1 on the first hop); raise when malformed."""
    value: Any = obj.get(name)
    # Some senders write it as text ("3"); JSON's 3.0 is the integer 3 too.
    as_text = isinstance(value, str) and value.strip().isdigit() and value.isascii()
    if as_text or (isinstance(value, float) and value.is_integer()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UssdParseError(name, "missing" if value is None else "not a number")
    if not 0 <= value <= _MAX_SEQUENCE:
        raise UssdParseError(name, "out of range")
    return value


def checked(name: str, check: Callable[..., _T], *args: Any) -> _T:
    """Return `check(*args)` (a check of gateway.africastalking), its error naming `name`."""
    try:
        return check(*args)
    except UssdParseError as error:
        raise UssdParseError(name, error.reason) from None


def latest_hop(field: str, message: str, *, new: bool, service_code: str = "") -> tuple[str, str]:
    """Return (service code, text) of a latest-input hop: the dial string on a new session,
    else the one answer typed (checked as `field`)."""
    if new:
        return first_hop(message, service_code)
    return "", checked(field, check_text, message)


def first_hop(message: str, service_code: str) -> tuple[str, str]:
    """Return (service code, text) of a session's first hop whose input may be the dial string.

    Hubtel, Nalo and Arkesel hand the whole dial string (`*384*12*3#`) as the first input: it
    becomes the service code, so the engine replays the answers it names like any other dial.
    """
    dialled = message.strip()
    if dialled.startswith("*") and dialled.endswith("#"):
        return checked("dial string", check_service_code, dialled), ""
    return (checked("service code", check_service_code, service_code) if service_code else ""), (
        checked("input", check_text, message)
    )
