"""Africa's Talking: a form per hop, `text` cumulative (`1*2*3`), replies `CON …`/`END …`.

The wire format itself lives in gateway/africastalking.py (the fastest parser of the edge);
this adapter only names its facts. A malformed hop or a refusal is still answered 200 with a
polite `END`: AT shows "connection problem" for any other status, never our words.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar, Final

from gateway.africastalking import REPLY_CONTENT_TYPE, parse_callback
from gateway.aggregators.base import Adapter, Callback, Parsed
from menus.hop import UssdReply

_NO_ECHO: Final[Mapping[str, Any]] = {}


class AfricasTalking(Adapter):
    """`POST /ussd/africastalking`: sessionId, serviceCode, phoneNumber, networkCode, text."""

    name = "africastalking"
    title = "Africa's Talking"
    reply_content_type = REPLY_CONTENT_TYPE
    cumulative = True
    new_session: ClassVar[str] = "a sessionId we have not seen"
    retry: ClassVar[str] = "the same sessionId and the same cumulative text"

    def parse(self, callback: Callback, region: str) -> Parsed:
        """Parse the form (see gateway/africastalking.py)."""
        return Parsed(parse_callback(callback.body, callback.content_type, region), _NO_ECHO)

    def render(self, reply: UssdReply, echo: Mapping[str, Any]) -> bytes:
        """Return `CON <screen>` or `END <screen>`."""
        return reply.wire().encode()

    def status(self, status: HTTPStatus) -> HTTPStatus:
        """Return 200 for a malformed or oversized hop (the 403 of a refused caller stays)."""
        return status if status == HTTPStatus.FORBIDDEN else HTTPStatus.OK
