"""Arkesel USSD (Ghana): JSON in, `{sessionID, userID, msisdn, message, continueSession}` out.

A hop (application/json)::

    {"sessionID": "16466448314", "userID": "ARKESEL_USER", "newSession": true,
     "msisdn": "233544000000", "userData": "*928*01#", "network": "MTN"}

`newSession: true` starts a session (`userData` is then the dial string); afterwards
`userData` is the latest answer. The reply repeats sessionID, userID and msisdn;
`continueSession: false` ends the session.

Retries: a repeated first hop is recognised (same sessionID, newSession true); later hops
carry nothing that tells a retry from the same answer typed again.
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
    flag_field,
    json_object,
    latest_hop,
    text_field,
)
from menus.hop import UssdReply, UssdRequest

DIAL_MARK: Final = "new"  # the mark of a session's first hop: a retry of it is recognised
_MAX_USERID: Final = 64


class Arkesel(Adapter):
    """`POST /ussd/arkesel`: Arkesel's USSD callback."""

    name = "arkesel"
    title = "Arkesel"
    new_session: ClassVar[str] = "newSession true (userData: the dial string)"
    retry: ClassVar[str] = "the first hop only (same sessionID, newSession true)"

    def parse(self, callback: Callback, region: str) -> Parsed:
        """Read one Arkesel hop."""
        obj = json_object(callback.body)
        session_id = checked("sessionID", check_session_id, text_field(obj, "sessionID"))
        user_id = text_field(obj, "userID", required=False)
        if len(user_id) > _MAX_USERID:
            raise UssdParseError("userID", "too long")
        raw_msisdn = text_field(obj, "msisdn")
        new = flag_field(obj, "newSession")
        data = text_field(obj, "userData", required=False)
        service_code, text = latest_hop("userData", data, new=new)
        request = UssdRequest(
            session_id=session_id,
            msisdn=checked("msisdn", normalise_msisdn, raw_msisdn, region),
            service_code=service_code,
            network_code=network_code(text_field(obj, "network", required=False)),
            text=text,
            cumulative=False,
            hop_mark=DIAL_MARK if new else "",
            new_session=new,
        )
        return Parsed(request, {"sessionID": session_id, "userID": user_id, "msisdn": raw_msisdn})

    def render(self, reply: UssdReply, echo: Mapping[str, Any]) -> bytes:
        """Return the reply; continueSession false ends the session."""
        return orjson.dumps(
            {
                "sessionID": echo.get("sessionID", ""),
                "userID": echo.get("userID", ""),
                "msisdn": echo.get("msisdn", ""),
                "message": reply.body,
                "continueSession": not reply.end,
            }
        )
