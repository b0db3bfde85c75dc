"""Phones that speak each aggregator's USSD protocol to the app, written from their documents.

Each one dials and types like its aggregator does (../shared/PROVIDERS.md §5) and reads the
reply the way the aggregator would, independently of gateway/aggregators/ (which they test).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar
from urllib.parse import urlencode

from flask.testing import FlaskClient

from tests.conftest import UssdPhone, UssdScreen

SERVICE_CODE = "*384*12#"
JSON = "application/json"


class ProtocolPhone:
    """A phone on one aggregator: dial(), type(), retry() return what the handset shows."""

    name: ClassVar[str]
    url: ClassVar[str]

    def __init__(self, client: FlaskClient, phone: str = "+243810000001") -> None:
        self.client = client
        self.phone = phone
        self.last_request: dict[str, Any] = {}
        self.last: UssdScreen | None = None

    def dial(self, code: str = SERVICE_CODE) -> UssdScreen:
        """Start a new session."""
        raise NotImplementedError

    def type(self, *answers: str) -> UssdScreen:
        """Send each answer as one hop; return the last screen."""
        screen = None
        for answer in answers:
            screen = self._answer(answer)
        assert screen is not None
        return screen

    def retry(self) -> UssdScreen:
        """Send the last hop again, unchanged (the aggregator got no answer in time)."""
        return self._send(self.last_request)

    def _answer(self, answer: str) -> UssdScreen:
        raise NotImplementedError

    def _send(self, payload: dict[str, Any]) -> UssdScreen:
        self.last_request = payload
        response = self.client.post(
            self.url, data=json.dumps(payload), content_type="application/json"
        )
        assert response.content_type == "application/json", response.get_data(as_text=True)
        screen = self._screen(response.get_json(), response.status_code)
        self.last = screen
        return screen

    def _screen(self, reply: dict[str, Any], status: int) -> UssdScreen:
        raise NotImplementedError


class AfricasTalkingPhone(ProtocolPhone):
    """Africa's Talking: the shared `UssdPhone` (form, cumulative text, CON/END)."""

    name = "africastalking"
    url = "/ussd/africastalking"

    def __init__(self, client: FlaskClient, phone: str = "+243810000001") -> None:
        super().__init__(client, phone)
        self._at = UssdPhone(client, phone=phone)

    def dial(self, code: str = SERVICE_CODE) -> UssdScreen:
        return self._at.dial(service_code=code)

    def _answer(self, answer: str) -> UssdScreen:
        return self._at.type(answer)

    def retry(self) -> UssdScreen:
        return self._at.retry()


class HubtelPhone(ProtocolPhone):
    """Hubtel: JSON, Type Initiation then Response, Sequence counts hops; {Type, Message}."""

    name = "hubtel"
    url = "/ussd/hubtel"

    def dial(self, code: str = SERVICE_CODE) -> UssdScreen:
        self.session_id = uuid.uuid4().hex
        self.sequence = 1
        return self._send(self._hop("Initiation", code))

    def _answer(self, answer: str) -> UssdScreen:
        self.sequence += 1
        return self._send(self._hop("Response", answer))

    def hang_up(self, kind: str = "Timeout") -> dict[str, Any]:
        """Tell the gateway the session is over (Release or Timeout); return its raw reply."""
        self.sequence += 1
        hop = self._hop(kind, "")
        response = self.client.post(self.url, data=json.dumps(hop), content_type=JSON)
        assert response.status_code == 200
        reply: dict[str, Any] = response.get_json()
        return reply

    def _hop(self, kind: str, message: str) -> dict[str, Any]:
        return {
            "Mobile": self.phone.lstrip("+"),
            "SessionId": self.session_id,
            "ServiceCode": SERVICE_CODE,
            "Type": kind,
            "Message": message,
            "Operator": "vodafone",
            "Sequence": self.sequence,
            "ClientState": "",
            "Platform": "USSD",
        }

    def _screen(self, reply: dict[str, Any], status: int) -> UssdScreen:
        assert set(reply) == {"Type", "Message"}, reply
        assert reply["Type"] in {"Response", "Release"}, reply
        kind = "END" if reply["Type"] == "Release" else "CON"
        return UssdScreen(kind, reply["Message"], status, "application/json")


class NaloPhone(ProtocolPhone):
    """Nalo: JSON, no session id, MSGTYPE true on the first hop; {USERID, MSISDN, MSG, MSGTYPE}."""

    name = "nalo"
    url = "/ussd/nalo"
    user_id = "GUICHET_APP"

    def dial(self, code: str = SERVICE_CODE) -> UssdScreen:
        return self._send(self._hop(code, new=True))

    def _answer(self, answer: str) -> UssdScreen:
        return self._send(self._hop(answer, new=False))

    def _hop(self, data: str, *, new: bool) -> dict[str, Any]:
        return {
            "USERID": self.user_id,
            "MSISDN": self.phone.lstrip("+"),
            "USERDATA": data,
            "MSGTYPE": new,
            "NETWORK": "MTN",
        }

    def _screen(self, reply: dict[str, Any], status: int) -> UssdScreen:
        assert set(reply) == {"USERID", "MSISDN", "MSG", "MSGTYPE"}, reply
        if status == 200:
            assert (reply["USERID"], reply["MSISDN"]) == (self.user_id, self.phone.lstrip("+"))
        return UssdScreen("CON" if reply["MSGTYPE"] else "END", reply["MSG"], status, "")


class ArkeselPhone(ProtocolPhone):
    """Arkesel: JSON, newSession on the first hop; {sessionID, userID, msisdn, message, ...}."""

    name = "arkesel"
    url = "/ussd/arkesel"
    user_id = "ARKESEL_USER"

    def dial(self, code: str = SERVICE_CODE) -> UssdScreen:
        self.session_id = str(uuid.uuid4().int)[:12]
        return self._send(self._hop(code, new=True))

    def _answer(self, answer: str) -> UssdScreen:
        return self._send(self._hop(answer, new=False))

    def _hop(self, data: str, *, new: bool) -> dict[str, Any]:
        return {
            "sessionID": self.session_id,
            "userID": self.user_id,
            "newSession": new,
            "msisdn": self.phone.lstrip("+"),
            "userData": data,
            "network": "MTN",
        }

    def _screen(self, reply: dict[str, Any], status: int) -> UssdScreen:
        assert set(reply) == {"sessionID", "userID", "msisdn", "message", "continueSession"}
        if status == 200:
            echoed = (reply["sessionID"], reply["userID"], reply["msisdn"])
            assert echoed == (self.session_id, self.user_id, self.phone.lstrip("+"))
        return UssdScreen(
            "CON" if reply["continueSession"] else "END", reply["message"], status, ""
        )


class GenericPhone(ProtocolPhone):
    """A CON/END aggregator on its default names: GET, SESSIONID/USSDCODE/MSISDN/INPUT, `1*2`."""

    name = "generic"
    url = "/ussd/generic"

    def dial(self, code: str = SERVICE_CODE) -> UssdScreen:
        self.session_id = "gen-" + uuid.uuid4().hex
        self.inputs: list[str] = []
        return self._get()

    def _answer(self, answer: str) -> UssdScreen:
        self.inputs.append(answer)
        return self._get()

    def retry(self) -> UssdScreen:
        return self._get()

    def _get(self) -> UssdScreen:
        query = {
            "SESSIONID": self.session_id,
            "USSDCODE": SERVICE_CODE,
            "MSISDN": self.phone.lstrip("+"),
            "INPUT": "*".join(self.inputs),
        }
        response = self.client.get(self.url + "?" + urlencode(query))
        kind, _, body = response.get_data(as_text=True).partition(" ")
        return UssdScreen(kind, body, response.status_code, response.content_type or "")


class LatestGenericPhone(ProtocolPhone):
    """A CON/END aggregator configured with its own names, POST forms and latest-only input."""

    name = "generic-latest"
    url = "/ussd/generic"
    SETTINGS: ClassVar[dict[str, str]] = {
        "ussd_generic_session_field": "sessionid",
        "ussd_generic_msisdn_field": "msisdn",
        "ussd_generic_service_field": "ussd_code",
        "ussd_generic_input_field": "ussd_string",
        "ussd_generic_input": "latest",
    }

    def dial(self, code: str = SERVICE_CODE) -> UssdScreen:
        self.session_id = "lat-" + uuid.uuid4().hex
        return self._post(code)

    def _answer(self, answer: str) -> UssdScreen:
        return self._post(answer)

    def retry(self) -> UssdScreen:
        return self._post(self._last_input)

    def _post(self, data: str) -> UssdScreen:
        self._last_input = data
        form = {"sessionid": self.session_id, "msisdn": self.phone, "ussd_code": SERVICE_CODE}
        response = self.client.post(self.url, data={**form, "ussd_string": data})
        kind, _, body = response.get_data(as_text=True).partition(" ")
        return UssdScreen(kind, body, response.status_code, response.content_type or "")


PHONES: tuple[type[ProtocolPhone], ...] = (
    AfricasTalkingPhone,
    HubtelPhone,
    NaloPhone,
    ArkeselPhone,
    GenericPhone,
    LatestGenericPhone,
)
