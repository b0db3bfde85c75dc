"""A fake Safaricom Daraja API on 127.0.0.1 for tests and local runs (no real money).

It checks what the real API checks that we can get wrong (Basic auth, bearer token,
Password = base64(shortcode + passkey + Timestamp), the request fields), decides each
payment's result from the amount's last two digits like the sandbox provider (01 1032
cancelled, 02 1 insufficient funds, 03 1037 no callback, 04 2001 wrong PIN, 05 1025 other,
else 0), and queues the callback that `deliver_callbacks()` POSTs to the CallBackURL.
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
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
    # With a Realism: when the customer answers the prompt (epoch s); before it, a status
    # query says "being processed". When the provider first told us the result (callback
    # POSTed or a query answered with it), and what its callback will do.
    decided_at: float = 0.0
    told_at: float | None = None
    received_at: float = field(default_factory=time.time)  # when the push reached the fake
    callback: str = "on_time"  # on_time | late | missing


@dataclass(frozen=True, slots=True)
class Realism:
    """A crowd of real customers and a busy provider, for the deadline benchmark.

    Each push is answered after `accept_seconds` (uniform range), the customer types the PIN
    (or gives up) `pin_seconds` later, and the callback comes then, `late_seconds` after
    that, or never (only stkpushquery tells). Results are drawn from `seed`, not the amount.
    A `push_timeout_share` of pushes is answered after `push_timeout_seconds` (a client
    timeout: the provider took the push, our client never learnt its CheckoutRequestID).
    """

    accept_seconds: tuple[float, float] = (0.5, 2.0)
    pin_seconds: tuple[float, float] = (5.0, 30.0)
    # ResultCode -> share of pushes; the rest succeed (0).
    failures: tuple[tuple[int, float], ...] = ((1032, 0.05), (1, 0.03), (2001, 0.02), (1037, 0.03))
    late_share: float = 0.05
    late_seconds: tuple[float, float] = (30.0, 90.0)
    missing_share: float = 0.05
    push_timeout_share: float = 0.01
    push_timeout_seconds: float = 12.0
    seed: int = 19

    def draw(self, rng: random.Random) -> tuple[float, float, int, str, float]:
        """Return (accept delay, PIN delay, ResultCode, callback fate, extra callback delay)."""
        if rng.random() < self.push_timeout_share:
            accept = self.push_timeout_seconds
        else:
            accept = rng.uniform(*self.accept_seconds)
        pin = rng.uniform(*self.pin_seconds)
        roll, code = rng.random(), 0
        for candidate, share in self.failures:
            if roll < share:
                code = candidate
                break
            roll -= share
        fate, roll = "on_time", rng.random()
        if code == 1037:
            fate = "missing"  # "DS timeout user cannot be reached": Daraja sends nothing
        elif accept >= self.push_timeout_seconds:
            fate = "on_time"  # the callback names our intent: the only way we learn of it
        elif roll < self.late_share:
            fate = "late"
        elif roll < self.late_share + self.missing_share:
            fate = "missing"
        extra = rng.uniform(*self.late_seconds) if fate == "late" else 0.0
        return accept, pin, code, fate, extra


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
    realism: Realism | None = None  # see Realism; None = the amount decides, tests deliver
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=random.Random)
    # (due epoch s, checkout id) of callbacks the realism will POST by itself.
    due_callbacks: list[tuple[float, str]] = field(default_factory=list)
    wake: threading.Condition | None = None


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
        self._posting: ThreadPoolExecutor | None = None
        self._stopping = False

    def behave(self, realism: Realism) -> None:
        """Answer like real customers from now on, and POST the callbacks when they are due."""
        with self.state.lock:
            self.state.realism = realism
            self.state.rng = random.Random(realism.seed)  # noqa: S311 - a fake's dice
            self.state.wake = threading.Condition(self.state.lock)
        # Callbacks go out in parallel: one slow answer of ours must not delay the others.
        self._posting = ThreadPoolExecutor(max_workers=8, thread_name_prefix="daraja-callback")
        threading.Thread(target=self._post_due_callbacks, daemon=True).start()

    def stop(self) -> None:
        """Stop posting callbacks, then stop serving."""
        with self.state.lock:
            self._stopping = True
            if self.state.wake is not None:
                self.state.wake.notify_all()
        if self._posting is not None:
            self._posting.shutdown(wait=False, cancel_futures=True)
        super().stop()

    def _post_due_callbacks(self) -> None:
        state = self.state
        assert state.wake is not None and self._posting is not None
        while True:
            with state.lock:
                while not self._stopping and (
                    not state.due_callbacks or state.due_callbacks[0][0] > time.time()
                ):
                    wait = state.due_callbacks[0][0] - time.time() if state.due_callbacks else None
                    state.wake.wait(wait)
                if self._stopping:
                    return
                _, checkout_id = heapq.heappop(state.due_callbacks)
                checkout = next(c for c in state.pushes if c.checkout_id == checkout_id)
            self._posting.submit(self._post_one, checkout)

    def _post_one(self, checkout: Checkout) -> None:
        sent_at = time.time()
        try:
            response = requests.post(
                checkout.request["CallBackURL"], json=stk_callback(checkout), timeout=10
            )
            status = response.status_code
        except requests.RequestException:
            status = 0  # Daraja does not retry a callback: a missing one is ours to find
        with self.state.lock:
            self.state.callbacks_sent.append((checkout.checkout_id, status))
            if status == 200 and checkout.told_at is None:
                checkout.told_at = sent_at

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
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
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
                hang, state.hang_next_push = state.hang_next_push, 0.0
                if state.realism is not None:
                    hang, pin, checkout.result_code, checkout.callback, extra = state.realism.draw(
                        state.rng
                    )
                    checkout.decided_at = time.time() + hang + pin
                    if checkout.callback != "missing":
                        heapq.heappush(
                            state.due_callbacks, (checkout.decided_at + extra, checkout.checkout_id)
                        )
                        assert state.wake is not None
                        state.wake.notify()
                state.pushes.append(checkout)
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
            if found.decided_at and time.time() < found.decided_at:
                processing = True  # the customer has not answered the prompt yet
            elif found.decided_at:
                with state.lock:
                    found.told_at = found.told_at or time.time()
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
