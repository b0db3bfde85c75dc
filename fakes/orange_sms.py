"""A fake Orange SMS API (OneAPI) on 127.0.0.1, so sms.providers.orange runs end to end.

`POST /oauth/v3/token` (Basic client_id:client_secret, form grant_type=client_credentials) ->
`{token_type, access_token, expires_in: "3600"}`; `POST /smsmessaging/v1/outbound/
tel%3A%2B{sender}/requests` with a Bearer token and an `outboundSMSMessageRequest` -> **201**,
the request echoed with its `resourceURL`; errors as `requestError.serviceException` (400) or
`policyException` (403); an unknown token -> 401. `…/subscriptions` takes a
`deliveryReceiptSubscription`. It builds the OneAPI notifications Orange posts: delivery
receipts (`deliveryInfoNotification`, with the request's `callbackData`) and inbound SMS.

    python -m fakes.orange_sms --port 8094
    SMS_PROVIDER=orange ORANGE_SMS_BASE_URL=http://127.0.0.1:8094 make run
"""

from __future__ import annotations

import argparse
import base64
import json
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Final

from fakes.scripted import QuietHandler, Received, ScriptedFake

_INVALID: Final = "The requested service needs credentials, but the ones provided were invalid."
# Refusals the fake can be told to give per number: (HTTP status, kind, messageId, text).
ERRORS: Final = {
    "SVC0004": (
        400,
        "serviceException",
        "SVC0004",
        "No valid addresses provided in message part %1",
    ),
    "POL0001": (403, "policyException", "POL0001", "A policy error occurred"),
}


class FakeOrangeSms(ScriptedFake):
    """The fake API and its state: issued tokens, subscriptions, each message's callbackData."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_id: str = "fake-orange-id",
        client_secret: str = "fake-orange-secret",  # noqa: S107 - the fake's own
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.subscriptions: list[dict[str, Any]] = []
        self.receipts: dict[str, dict[str, Any]] = {}  # callbackData -> receiptRequest
        self._listen(_handler_for(self), port, host)

    def expire_tokens(self) -> None:
        """Forget every token issued (the next send meets a 401, as after an hour)."""
        self.tokens.clear()

    @staticmethod
    def delivery_notification(callback_data: str, address: str, status: str) -> dict[str, Any]:
        """Return the deliveryInfoNotification Orange posts for one message."""
        return {
            "deliveryInfoNotification": {
                "callbackData": callback_data,
                "deliveryInfo": {"address": f"tel:{address}", "deliveryStatus": status},
            }
        }

    @staticmethod
    def inbound_notification(sender: str, text: str, to: str = "+243800000000") -> dict[str, Any]:
        """Return the inboundSMSMessageNotification Orange posts for one SMS."""
        return {
            "inboundSMSMessageNotification": {
                "inboundSMSMessage": {
                    "messageId": uuid.uuid4().hex,
                    "senderAddress": f"tel:{sender}",
                    "destinationAddress": f"tel:{to}",
                    "message": text,
                    "dateTime": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            }
        }


def _handler_for(fake: FakeOrangeSms) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.body().decode()
            if self.path == "/oauth/v3/token":
                self._token(raw)
                return
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in fake.tokens:
                self.answer(
                    401,
                    {
                        "code": 42,
                        "message": "Expired credentials",
                        "description": _INVALID,
                    },
                )
                return
            parts = self.path.split("/")
            if len(parts) != 6 or parts[1:4] != ["smsmessaging", "v1", "outbound"]:
                self.answer(404, {"code": 60, "message": "Resource not found"})
                return
            body = json.loads(raw or "{}")
            if parts[5] == "subscriptions":
                self._subscribe(body)
            elif parts[5] == "requests":
                self._send(parts[4], body)
            else:
                self.answer(404, {"code": 60, "message": "Resource not found"})

        def _token(self, raw: str) -> None:
            fake.token_requests += 1
            pair = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
            form = dict(urllib.parse.parse_qsl(raw))
            if self.headers.get("Authorization") != f"Basic {pair}":
                self.answer(
                    401,
                    {
                        "error": "invalid_client",
                        "error_description": _INVALID,
                    },
                )
                return
            if form.get("grant_type") != "client_credentials":
                self.answer(400, {"error": "unsupported_grant_type"})
                return
            token = uuid.uuid4().hex
            fake.tokens.add(token)
            self.answer(200, {"token_type": "Bearer", "access_token": token, "expires_in": "3600"})

        def _subscribe(self, body: dict[str, Any]) -> None:
            fake.subscriptions.append(body)
            reference = f"{fake.url}{self.path}/{uuid.uuid4().hex}"
            subscription = {**body.get("deliveryReceiptSubscription", {}), "resourceURL": reference}
            self.answer(201, {"deliveryReceiptSubscription": subscription})

        def _send(self, sender: str, body: dict[str, Any]) -> None:
            request = body.get("outboundSMSMessageRequest")
            if not isinstance(request, dict) or not isinstance(request.get("address"), str):
                self._refuse("SVC0004")
                return
            number = request["address"].removeprefix("tel:")
            text = str((request.get("outboundSMSTextMessage") or {}).get("message", ""))
            receipt = request.get("receiptRequest") or {}
            behaviour = fake.next_behaviour()
            code = behaviour.per_number.get(number, "")
            request_id = uuid.uuid4().hex
            fake.record(Received((number,), text, () if code else (request_id,), body))
            if behaviour.delay_seconds:
                time.sleep(behaviour.delay_seconds)
            if behaviour.http_status:
                self.answer(behaviour.http_status, {"code": 1, "message": "Internal error"})
            elif code:
                self._refuse(code)
            else:
                if receipt.get("callbackData"):
                    fake.receipts[str(receipt["callbackData"])] = receipt
                resource = f"{fake.url}/smsmessaging/v1/outbound/{sender}/requests/{request_id}"
                self.answer(
                    201, {"outboundSMSMessageRequest": {**request, "resourceURL": resource}}
                )

        def _refuse(self, code: str) -> None:
            status, kind, message_id, text = ERRORS[code]
            error = {"messageId": message_id, "text": text, "variables": ["address"]}
            self.answer(status, {"requestError": {kind: error}})

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the fake Orange SMS API until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m fakes.orange_sms", description=__doc__)
    parser.add_argument("--port", type=int, default=8094)
    args = parser.parse_args(argv)
    fake = FakeOrangeSms(port=args.port)
    return fake.serve_until_interrupted("fake Orange SMS API (ORANGE_SMS_BASE_URL)")


if __name__ == "__main__":
    raise SystemExit(main())
