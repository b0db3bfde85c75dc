"""Hubtel programmable USSD (Ghana): JSON in, `{Type, Message}` out.

A hop (application/json)::

    {"Mobile": "233200585542", "SessionId": "3c7e0e4a...", "ServiceCode": "*711*23#",
     "Type": "Initiation", "Message": "*711*23#", "Operator": "vodafone", "Sequence": 1,
     "ClientState": "", "Platform": "USSD"}

`Type` is Initiation (the first hop: `Message` is the whole dial string), Response (the
latest answer in `Message`), Release (the caller hung up) or Timeout (Hubtel gave up waiting):
after the last two nothing is shown, so they are answered without the engine and the stored
session is left to expire (its resume snapshot is what a redial offers). `Sequence` counts the
hops of a session from 1: a retried hop repeats it, so it tells a retry from the same answer
typed again. The reply is `{"Type": "Response", "Message": …}` (waits for input) or
`{"Type": "Release", "Message": …}` (the last screen); Hubtel allows about 5 s per hop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

import orjson

from gateway.africastalking import (
    UssdParseError,
    check_session_id,
    network_code,
    normalise_msisdn,
)
from gateway.aggregators.base import (
    Adapter,
    Callback,
    Parsed,
    checked,
    json_object,
    latest_hop,
    sequence_field,
    text_field,
)
from menus.hop import UssdReply, UssdRequest

TYPES: Final = frozenset({"Initiation", "Response", "Release", "Timeout"})
CLOSING: Final = frozenset({"Release", "Timeout"})


class Hubtel(Adapter):
    """`POST /ussd/hubtel`: Hubtel's programmable-services USSD callback."""

    name = "hubtel"
    title = "Hubtel"
    new_session: ClassVar[str] = "Type Initiation (Message: the dial string)"
    retry: ClassVar[str] = "the same SessionId and Sequence"

    def parse(self, callback: Callback, region: str) -> Parsed:
        """Read one Hubtel hop."""
        obj = json_object(callback.body)
        kind = text_field(obj, "Type")
        if kind not in TYPES:
            raise UssdParseError("Type", "not Initiation, Response, Release or Timeout")
        session_id = checked("SessionId", check_session_id, text_field(obj, "SessionId"))
        if kind in CLOSING:
            return Parsed(None)
        message = text_field(obj, "Message", required=False)
        initiation = kind == "Initiation"
        service_code, text = latest_hop(
            "Message",
            message,
            new=initiation,
            service_code=text_field(obj, "ServiceCode", required=False) if initiation else "",
        )
        request = UssdRequest(
            session_id=session_id,
            msisdn=checked("Mobile", normalise_msisdn, text_field(obj, "Mobile"), region),
            service_code=service_code,
            network_code=network_code(text_field(obj, "Operator", required=False)),
            text=text,
            cumulative=False,
            hop_mark=str(sequence_field(obj, "Sequence")),
            new_session=initiation,
        )
        return Parsed(request)

    def render(self, reply: UssdReply, echo: Mapping[str, Any]) -> bytes:
        """Return `{"Type": "Response"|"Release", "Message": <screen>}`."""
        return orjson.dumps({"Type": "Release" if reply.end else "Response", "Message": reply.body})
