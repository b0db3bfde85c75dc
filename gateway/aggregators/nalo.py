"""Nalo Solutions USSD (Ghana): JSON in, `{USERID, MSISDN, MSG, MSGTYPE}` out.

A hop (application/json)::

    {"USERID": "NALOTest", "MSISDN": "233244000000", "USERDATA": "*920*1#",
     "MSGTYPE": true, "NETWORK": "MTN"}

Nalo sends no session id: a session is one caller (MSISDN) on one application (USERID), and
`MSGTYPE: true` says a new one starts (`USERDATA` is then the dial string); afterwards
`USERDATA` is the latest answer. Our session id is a keyed hash of the two, so no phone number
appears in a Redis key. The reply repeats USERID and MSISDN; `MSGTYPE: true` keeps the session
open, `false` ends it.

Retries: a repeated first hop starts the session again (the same first screen, nothing
done twice); later hops carry nothing that tells a retry from the same answer typed again,
so a retried later hop is answered as a new answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

import orjson

from gateway.africastalking import UssdParseError, network_code, normalise_msisdn
from gateway.aggregators.base import (
    Adapter,
    Callback,
    Parsed,
    checked,
    flag_field,
    json_object,
    latest_hop,
    text_field,
)
from menus.hop import UssdReply, UssdRequest
from runtime.logs import current_phone_ref

_MAX_USERID: Final = 64


class Nalo(Adapter):
    """`POST /ussd/nalo`: Nalo's USSD callback."""

    name = "nalo"
    title = "Nalo Solutions"
    new_session: ClassVar[str] = "MSGTYPE true (USERDATA: the dial string); no session id"
    retry: ClassVar[str] = "none in the protocol: a repeated first hop restarts the same session"

    def parse(self, callback: Callback, region: str) -> Parsed:
        """Read one Nalo hop."""
        obj = json_object(callback.body)
        user_id = text_field(obj, "USERID")
        if not user_id.strip() or len(user_id) > _MAX_USERID:
            raise UssdParseError("USERID", "missing or too long")
        raw_msisdn = text_field(obj, "MSISDN")
        msisdn = checked("MSISDN", normalise_msisdn, raw_msisdn, region)
        new = flag_field(obj, "MSGTYPE")
        data = text_field(obj, "USERDATA", required=False)
        service_code, text = latest_hop("USERDATA", data, new=new)
        request = UssdRequest(
            # One caller on one application: a keyed hash, never the number itself.
            session_id="nalo-" + current_phone_ref(f"{user_id}|{msisdn}"),
            msisdn=msisdn,
            service_code=service_code,
            network_code=network_code(text_field(obj, "NETWORK", required=False)),
            text=text,
            cumulative=False,
            new_session=new,
        )
        return Parsed(request, {"USERID": user_id, "MSISDN": raw_msisdn})

    def render(self, reply: UssdReply, echo: Mapping[str, Any]) -> bytes:
        """Return `{"USERID", "MSISDN", "MSG", "MSGTYPE"}`; MSGTYPE true keeps it open."""
        return orjson.dumps(
            {
                "USERID": echo.get("USERID", ""),
                "MSISDN": echo.get("MSISDN", ""),
                "MSG": reply.body,
                "MSGTYPE": not reply.end,
            }
        )
