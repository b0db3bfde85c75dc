"""A configurable CON/END adapter for the many regional aggregators that copy Africa's Talking.

They send a form (POST) or query parameters (GET) under their own names, for example
`GET /ussd/generic?SESSIONID=…&USSDCODE=*384*12#&MSISDN=243810000001&INPUT=1*2`, and read a
`text/plain` reply starting `CON ` (wait for input) or `END ` (close). The four names and
whether input is cumulative (`1*2*3`) or only the latest answer are settings
(USSD_GENERIC_*_FIELD, USSD_GENERIC_INPUT): a city points this adapter at its aggregator
without code. A new session is a session id we have not seen; a retried hop is recognised by
its cumulative input; latest-only input tells only a retried first hop that carries the dial
string (a later answer carries nothing that tells a retry from the same answer typed again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal

from gateway.africastalking import (
    FORM_CONTENT_TYPE,
    MAX_BODY_BYTES,
    REPLY_CONTENT_TYPE,
    UssdParseError,
    check_session_id,
    normalise_msisdn,
    split_form,
)
from gateway.aggregators.base import Adapter, Callback, Parsed, checked, first_hop
from menus.hop import UssdReply, UssdRequest

InputMode = Literal["cumulative", "latest"]
DIAL_MARK: Final = "dial"
INPUT_MODES: Final[tuple[InputMode, ...]] = ("cumulative", "latest")


@dataclass(frozen=True, slots=True)
class Fields:
    """The aggregator's names for the four values of a hop."""

    session: str = "SESSIONID"
    msisdn: str = "MSISDN"
    service: str = "USSDCODE"
    input: str = "INPUT"


class Generic(Adapter):
    """`GET|POST /ussd/generic`: form or query fields named by settings, CON/END replies."""

    name = "generic"
    title = "Any CON/END aggregator (configured)"
    methods: ClassVar[frozenset[str]] = frozenset({"GET", "POST"})
    reply_content_type = REPLY_CONTENT_TYPE
    new_session: ClassVar[str] = "a session id we have not seen"
    retry: ClassVar[str] = (
        "the same session id and cumulative input (latest input: the dial-string hop only)"
    )

    def __init__(self, fields: Fields | None = None, mode: InputMode = "cumulative") -> None:
        self.fields = fields or Fields()
        self.cumulative = mode == "cumulative"
        self._names = frozenset(
            (self.fields.session, self.fields.msisdn, self.fields.service, self.fields.input)
        )

    def parse(self, callback: Callback, region: str) -> Parsed:
        """Read one hop from the query (GET, or a POST without a body) or the form."""
        form = self._form(callback)
        names = self.fields
        session = form.get(names.session)
        if session is None:
            raise UssdParseError(names.session, "missing")
        phone = form.get(names.msisdn)
        if phone is None:
            raise UssdParseError(names.msisdn, "missing")
        typed = form.get(names.input, "")
        service_code, text = first_hop(typed, form.get(names.service, ""))
        # Latest-only input: a first hop that carries the dial string is the one hop whose
        # retry can be told (the same string again, never typed as an answer).
        dialled = not self.cumulative and not text and bool(typed.strip())
        request = UssdRequest(
            session_id=checked(names.session, check_session_id, session),
            msisdn=checked(names.msisdn, normalise_msisdn, phone, region),
            service_code=service_code,
            network_code="",
            text=text,
            cumulative=self.cumulative,
            hop_mark=DIAL_MARK if dialled else "",
            new_session=dialled,
        )
        return Parsed(request)

    def render(self, reply: UssdReply, echo: Mapping[str, Any]) -> bytes:
        """Return `CON <screen>` or `END <screen>`."""
        return reply.wire().encode()

    def _form(self, callback: Callback) -> dict[str, str]:
        if callback.method == "POST" and callback.body:
            mimetype = (callback.content_type or "").split(";", 1)[0].strip().lower()
            if mimetype != FORM_CONTENT_TYPE:
                raise UssdParseError("body", f"expected {FORM_CONTENT_TYPE}")
            raw = callback.body
        else:
            raw = callback.query.encode("latin-1", "replace")
        if len(raw) > MAX_BODY_BYTES:
            raise UssdParseError("body", "too large")
        try:
            pairs = split_form(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise UssdParseError("body", "not a UTF-8 form") from None
        form: dict[str, str] = {}
        for name, value in pairs:
            if name not in self._names:
                continue  # the token, and whatever else the aggregator adds
            if name in form:
                raise UssdParseError(name, "sent twice")
            form[name] = value
        return form
