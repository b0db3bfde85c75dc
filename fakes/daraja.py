"""A fake Safaricom Daraja API on 127.0.0.1 for tests and local runs (no real money).

It checks what the real API checks that we can get wrong (Basic auth, bearer token,
Password = base64(shortcode + passkey + Timestamp), the request fields), decides each
payment's result from the amount's last two digits like the sandbox provider (01 1032
cancelled, 02 1 insufficient funds, 03 1037 no callback, 04 2001 wrong PIN, 05 1025 other,
else 0), and queues the callback that `deliver_callbacks()` POSTs to the CallBackURL.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Final
from urllib.parse import parse_qs, urlparse

import requests

from fakes.server import LocalServer

RESULT_CODES: Final = {1: 1032, 2: 1, 3: 1037, 4: 2001, 5: 1025}
NO_CALLBACK: Final = 3
_DESCRIPTIONS: Final = {
    0: "The service request is processed successfully.",
    1: "The balance is insufficient for the transaction.",
    1025: "An error occurred while sending a push request",
    1032: "Request cancelled by user",
    1037: "DS timeout user cannot be reached",
    2001: "The initiator information is invalid.",
}
_PUSH_FIELDS: Final = (
    "BusinessShortCode",
    "Password",
    "Timestamp",
    "TransactionType",
    "Amount",
    "PartyA",
    "PartyB",
    "PhoneNumber",
    "CallBackURL",
    "AccountReference",
    "TransactionDesc",
)


@dataclass
class Checkout:
    """One STK push the fake accepted."""

    checkout_id: str
    merchant_id: str
    request: dict[str, Any]
    result_code: int
    receipt: str


@dataclass
class FakeDarajaState:
    """What the fake saw and what it will do next."""

    consumer_key: str
    consumer_secret: str
    shortcode: str
    passkey: str
    token_requests: int = 0
    tokens: set[str] = field(default_factory=set)
    pushes: list[Checkout] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    callbacks_sent: list[tuple[str, int]] = field(default_factory=list)
    # Sleep this long before answering the next push (after recording it): a client timeout.
    hang_next_push: float = 0.0
    processing: bool = False  # stkpushquery answers "being processed"
    refuse_pushes: bool = False  # answer pushes with HTTP 500 errorCode
    lock: threading.Lock = field(default_factory=threading.Lock)


def result_code_for(amount: int) -> int:
    """Return the Daraja ResultCode the fake gives for `amount`."""
    return RESULT_CODES.get(amount % 100, 0)


def stk_callback(checkout: Checkout) -> dict[str, Any]:
    """Return the callback body Daraja sends for `checkout`."""
    body: dict[str, Any] = {
        "MerchantRequestID": checkout.merchant_id,
        "CheckoutRequestID": checkout.checkout_id,
        "ResultCode": checkout.result_code,
        "ResultDesc": _DESCRIPTIONS.get(checkout.result_code, "Error"),
    }
    if checkout.result_code == 0:
        body["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": float(checkout.request["Amount"])},
                {"Name": "MpesaReceiptNumber", "Value": checkout.receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(time.strftime("%Y%m%d%H%M%S"))},
                {"Name": "PhoneNumber", "Value": int(checkout.request["PhoneNumber"])},
            ]
        }
    return {"Body": {"stkCallback": body}}


class FakeDaraja(LocalServer):
    """Run the fake on an ephemeral port of 127.0.0.1."""

    def __init__(
        self,
        *,
        consumer_key: str = "fake-consumer-key",
        consumer_secret: str = "fake-consumer-secret",  # noqa: S107 - a fake's fixed credential
        shortcode: str = "174379",
        passkey: str = "fake-passkey",
    ) -> None:
        self.state = FakeDarajaState(consumer_key, consumer_secret, shortcode, passkey)
        self._listen(_handler(self.state))

    def push_count(self, phone_digits: str | None = None) -> int:
        """Return how many STK pushes were accepted (for one phone when given)."""
        with self.state.lock:
            return sum(
                1
                for c in self.state.pushes
                if phone_digits is None or c.request["PhoneNumber"] == phone_digits
            )

    def deliver_callbacks(self, *, timeout: float = 10.0) -> list[int]:
        """POST every undelivered callback to its CallBackURL; return the HTTP statuses."""
        with self.state.lock:
            due = [
                c
                for c in self.state.pushes
                if c.result_code != 1037
                and c.checkout_id not in {cid for cid, _ in self.state.callbacks_sent}
            ]
        statuses = []
        for checkout in due:
            response = requests.post(
                checkout.request["CallBackURL"], json=stk_callback(checkout), timeout=timeout
            )
            with self.state.lock:
                self.state.callbacks_sent.append((checkout.checkout_id, response.status_code))
            statuses.append(response.status_code)
        return statuses


def _handler(state: FakeDarajaState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, {"requestId": uuid.uuid4().hex, "errorCode": code,
                                "errorMessage": message})  # fmt: skip

        def do_GET(self) -> None:
            """Serve the OAuth token endpoint."""
            parsed = urlparse(self.path)
            if parsed.path != "/oauth/v1/generate":
                self._error(404, "404.001.01", "Resource not found")
                return
            if parse_qs(parsed.query).get("grant_type") != ["client_credentials"]:
                self._error(400, "400.008.02", "Invalid grant type passed")
                return
            expected = base64.b64encode(
                f"{state.consumer_key}:{state.consumer_secret}".encode()
            ).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._error(400, "400.008.01", "Invalid Authentication passed")
                return
            token = uuid.uuid4().hex
            with state.lock:
                state.token_requests += 1
                state.tokens.add(token)
            self._send(200, {"access_token": token, "expires_in": "3599"})

        def do_POST(self) -> None:
            """Serve stkpush and stkpushquery."""
            auth = self.headers.get("Authorization", "")
            with state.lock:
                authorised = auth.startswith("Bearer ") and auth[7:] in state.tokens
            if not authorised:
                self._error(401, "404.001.03", "Invalid Access Token")
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._error(400, "400.002.02", "Bad Request - Invalid JSON")
                return
            if not self._password_ok(body):
                self._error(400, "400.002.02", "Bad Request - Invalid Password")
                return
            if self.path == "/mpesa/stkpush/v1/processrequest":
                self._push(body)
            elif self.path == "/mpesa/stkpushquery/v1/query":
                self._query(body)
            else:
                self._error(404, "404.001.01", "Resource not found")

        def _password_ok(self, body: dict[str, Any]) -> bool:
            stamp = str(body.get("Timestamp", ""))
            raw = f"{state.shortcode}{state.passkey}{stamp}".encode()
            return (
                len(stamp) == 14
                and stamp.isdigit()
                and str(body.get("BusinessShortCode")) == state.shortcode
                and body.get("Password") == base64.b64encode(raw).decode()
            )

        def _push(self, body: dict[str, Any]) -> None:
            missing = [name for name in _PUSH_FIELDS if body.get(name) in (None, "")]
            amount = body.get("Amount")
            if missing:
                self._error(400, "400.002.02", f"Bad Request - Invalid {missing[0]}")
                return
            if not isinstance(amount, int) or amount < 1:
                self._error(400, "400.002.02", "Bad Request - Invalid Amount")
                return
            if body["TransactionType"] != "CustomerPayBillOnline":
                self._error(400, "400.002.02", "Bad Request - Invalid TransactionType")
                return
            if state.refuse_pushes:
                self._error(500, "500.001.1001", "Unable to lock subscriber")
                return
            checkout = Checkout(
                checkout_id=f"ws_CO_{uuid.uuid4().hex[:20]}",
                merchant_id=f"{uuid.uuid4().int % 100000}-{uuid.uuid4().int % 10**8}-1",
                request=dict(body),
                result_code=result_code_for(amount),
                receipt=uuid.uuid4().hex[:10].upper(),
            )
            with state.lock:
                state.pushes.append(checkout)
                hang, state.hang_next_push = state.hang_next_push, 0.0
            if hang:
                time.sleep(hang)
            self._send(
                200,
                {
                    "MerchantRequestID": checkout.merchant_id,
                    "CheckoutRequestID": checkout.checkout_id,
                    "ResponseCode": "0",
                    "ResponseDescription": "Success. Request accepted for processing",
                    "CustomerMessage": "Success. Request accepted for processing",
                },
            )

        def _query(self, body: dict[str, Any]) -> None:
            checkout_id = str(body.get("CheckoutRequestID", ""))
            with state.lock:
                state.queries.append(checkout_id)
                found = next((c for c in state.pushes if c.checkout_id == checkout_id), None)
                processing = state.processing
            if found is None:
                self._error(400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
                return
            if processing:
                self._error(500, "500.001.1001", "The transaction is being processed")
                return
            self._send(
                200,
                {
                    "ResponseCode": "0",
                    "ResponseDescription": "The service request has been accepted successsfully",
                    "MerchantRequestID": found.merchant_id,
                    "CheckoutRequestID": found.checkout_id,
                    "ResultCode": str(found.result_code),
                    "ResultDesc": _DESCRIPTIONS.get(found.result_code, "Error"),
                },
            )

    return Handler
