"""A fake Orange Money Web Payment API on 127.0.0.1, for tests and development.

Built from ../shared/PROVIDERS.md §3 and §8, not from our adapter:

- `POST /oauth/v3/token`, HTTP Basic client_id:client_secret, form
  `grant_type=client_credentials` -> 200 {token_type: "Bearer", access_token, expires_in};
  bad credentials -> 401 {error: "invalid_client"}.
- `POST /orange-money-webpay/{country}/v1/webpayment` (Bearer) {merchant_key, currency,
  order_id, amount, return_url, cancel_url, notif_url, lang, reference} -> 201 {status: 201,
  message: "OK", pay_token, payment_url, notif_token}. order_id and reference at most 30
  characters, URLs at most 120, currency OUV on `dev`.
- The payment page `GET/POST /payment/pay_token/<pay_token>`: the customer pays there
  (form `action=pay|fail|cancel`), which moves the payment on and queues its notification.
- Notification POSTed to notif_url: {status: SUCCESS|FAILED, notif_token, txnid}.
- `POST …/v1/transactionstatus` (Bearer) {order_id, amount, pay_token} -> 201 {status,
  order_id, txnid}: INITIATED, PENDING, EXPIRED (10 minutes after creation, unpaid),
  SUCCESS, FAILED.

Unverified, chosen here and said so: API errors answer {code, message, description} with
Orange's gateway codes (401 code 41 invalid credentials, 42 expired credentials; 400 for a
bad body); a reused order_id is refused with 400 (code 1, "Duplicate order_id");
transactionstatus for an unknown (order_id, amount, pay_token) answers 400.

Scripting (`fake.state`, under `state.lock`; the clock is `state.now`, tests move it with
`fake.advance(seconds)`):
- the customer's answer, by the amount's last two digits like the other fakes: `01` fails
  (FAILED), `03` never pays (EXPIRED after 10 minutes, no notification), else SUCCESS;
  `state.next_outcomes` (SUCCESS/FAILED/EXPIRED/PENDING) overrides it for the next payments
  (PENDING: the page stays open after `settle()` until `answer(payment, "pay"|"fail")`);
- `payments_for(order_prefix)` finds payments (Guichet's order_id is the intent id's first
  27 characters, `-`, the push attempt), `redeliver(payment)` POSTs a notification again;
- `settle()` makes every open payment reach its outcome (the customer used the page);
  `deliver_notifications()` POSTs what is due and returns the HTTP statuses (`settle()`
  alone is a lost notification);
- `state.token_ttl` (seconds, default 3600) and `expire_tokens()` (every token expires
  now: the next call answers 401 code 42);
- `state.refuse_next_payment = True` answers the next webpayment 400;
  `state.hang_next_payment = seconds` creates the next payment, then answers late.

Run it for development: `python -m fakes.orange --port 8092`: open the payment page the
SMS links to and press Pay (or `curl -d action=pay <payment_url>`); with `--auto-seconds 5`
payments settle by the amount rule and notify on their own.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Final
from urllib.parse import parse_qs, urlparse

import requests

from fakes.server import LocalServer

EXPIRY_SECONDS: Final = 600.0
MAX_ID_CHARS: Final = 30
MAX_URL_CHARS: Final = 120
DEV_CURRENCY: Final = "OUV"
OUTCOMES_BY_AMOUNT: Final = {1: "FAILED", 3: "EXPIRED"}
FINAL: Final = frozenset({"SUCCESS", "FAILED", "EXPIRED"})
DEFAULT_CLIENT_ID: Final = "fake-orange-client-id"
DEFAULT_CLIENT_SECRET: Final = "fake-orange-client-secret"  # noqa: S105 - fixed fake credential
DEFAULT_MERCHANT_KEY: Final = "fakemk01"
_FIELDS: Final = (
    "merchant_key",
    "currency",
    "order_id",
    "amount",
    "return_url",
    "cancel_url",
    "notif_url",
    "lang",
    "reference",
)


@dataclass
class WebPayment:
    """One web payment the fake created."""

    pay_token: str
    notif_token: str
    request: dict[str, Any]
    created: float
    outcome: str  # what the customer will do: SUCCESS, FAILED or EXPIRED
    status: str = "INITIATED"
    txnid: str = ""
    notified: bool = False

    def notification(self) -> dict[str, str]:
        """Return the body Orange POSTs to notif_url."""
        return {"status": self.status, "notif_token": self.notif_token, "txnid": self.txnid}


@dataclass
class FakeOrangeState:
    """What the fake saw and what it does next."""

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    merchant_key: str = DEFAULT_MERCHANT_KEY
    country: str = "dev"
    currency: str = DEV_CURRENCY
    token_ttl: float = 3600.0
    now: Callable[[], float] = time.monotonic
    offset: float = 0.0  # added to now(): fake.advance() moves the clock
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry
    token_requests: int = 0
    payments: list[WebPayment] = field(default_factory=list)
    payment_requests: list[dict[str, Any]] = field(default_factory=list)
    status_queries: list[dict[str, Any]] = field(default_factory=list)
    notifications_sent: list[tuple[str, int]] = field(default_factory=list)
    next_outcomes: list[str] = field(default_factory=list)
    refuse_next_payment: bool = False
    hang_next_payment: float = 0.0
    auto_seconds: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clock(self) -> float:
        """Return the fake's time."""
        return self.now() + self.offset

    def expire_due(self) -> None:
        """Expire unpaid payments older than 10 minutes (call with the lock held)."""
        for payment in self.payments:
            if payment.status in {"INITIATED", "PENDING"} and (
                self.clock() - payment.created >= EXPIRY_SECONDS
            ):
                payment.status = "EXPIRED"

    def by_token(self, pay_token: str) -> WebPayment | None:
        """Return the payment with that pay_token."""
        return next((p for p in self.payments if p.pay_token == pay_token), None)


def outcome_for(amount: int) -> str:
    """Return what the customer does with a payment of `amount`."""
    return OUTCOMES_BY_AMOUNT.get(amount % 100, "SUCCESS")


class FakeOrange(LocalServer):
    """Serve the fake on 127.0.0.1 (port 0: any free one)."""

    def __init__(self, *, port: int = 0) -> None:
        self.state = FakeOrangeState()
        self._listen(_handler(self), port)

    def advance(self, seconds: float) -> None:
        """Move the fake's clock (token and payment expiry) forward."""
        with self.state.lock:
            self.state.offset += seconds
            self.state.expire_due()

    def expire_tokens(self) -> None:
        """Make every access token issued so far expired."""
        with self.state.lock:
            self.state.tokens = dict.fromkeys(self.state.tokens, 0.0)

    def answer(self, payment: WebPayment, action: str) -> None:
        """Apply the customer's action on the payment page (pay, fail, cancel)."""
        with self.state.lock:
            self.state.expire_due()
            if payment.status not in {"INITIATED", "PENDING"}:
                return
            if action == "pay":
                payment.status = "SUCCESS"
                day, time_, serial = (secrets.randbelow(10**n) for n in (6, 4, 5))
                payment.txnid = f"MP{day:06d}.{time_:04d}.A{serial:05d}"
            else:
                payment.status = "FAILED"

    def payments_for(self, order_prefix: str) -> list[WebPayment]:
        """Return the payments whose order_id starts with `order_prefix`, oldest first."""
        with self.state.lock:
            return [
                p for p in self.state.payments if p.request["order_id"].startswith(order_prefix)
            ]

    def settle(self) -> list[WebPayment]:
        """Let every open payment reach its scripted outcome; return them.

        EXPIRED: nobody opens the page, it expires 10 minutes after creation (`advance`).
        PENDING: the customer opened the page and stays there (`answer()` ends it).
        """
        with self.state.lock:
            open_ = [p for p in self.state.payments if p.status in {"INITIATED", "PENDING"}]
            for payment in open_:
                if payment.outcome == "PENDING":
                    payment.status = "PENDING"
        for payment in open_:
            if payment.outcome in {"EXPIRED", "PENDING"}:
                continue
            self.answer(payment, "pay" if payment.outcome == "SUCCESS" else "fail")
        return open_

    def redeliver(self, payment: WebPayment, *, timeout: float = 10.0) -> int:
        """POST a payment's notification again; return the HTTP status."""
        url, body = payment.request["notif_url"], payment.notification()
        return requests.post(url, json=body, timeout=timeout).status_code

    def deliver_notifications(self, *, timeout: float = 10.0) -> list[int]:
        """POST each paid or failed payment's notification once; return the HTTP statuses."""
        with self.state.lock:
            due = [
                p
                for p in self.state.payments
                if p.status in {"SUCCESS", "FAILED"} and not p.notified
            ]
            for payment in due:
                payment.notified = True
        statuses = []
        for payment in due:
            response = requests.post(
                payment.request["notif_url"], json=payment.notification(), timeout=timeout
            )
            with self.state.lock:
                self.state.notifications_sent.append((payment.pay_token, response.status_code))
            statuses.append(response.status_code)
        return statuses

    def _auto(self) -> None:
        time.sleep(self.state.auto_seconds or 0.0)
        self.settle()
        try:
            self.deliver_notifications()
        except requests.RequestException as error:  # our gateway is not running
            print(f"callback not delivered: {error}", flush=True)


def _handler(fake: FakeOrange) -> type[BaseHTTPRequestHandler]:
    state = fake.state

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def _send(
            self, status: int, payload: dict[str, Any], kind: str = "application/json"
        ) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _error(self, status: int, code: int, message: str, description: str = "") -> None:
            self._send(status, {"code": code, "message": message, "description": description})

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            """Serve the payment page (a stand-in: the real one asks for a number and code)."""
            token = self._page_token()
            with state.lock:
                payment = state.by_token(token) if token else None
            if payment is None:
                self._error(404, 404, "Not found")
                return
            raw = (
                f"<p>Orange Money (fake): pay {payment.request['amount']} "
                f"{payment.request['currency']} to {payment.request['reference']}</p>"
                '<form method="post"><button name="action" value="pay">Pay</button>'
                '<button name="action" value="cancel">Cancel</button></form>'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _page_token(self) -> str | None:
            parts = urlparse(self.path).path.strip("/").split("/")
            return parts[2] if len(parts) == 3 and parts[:2] == ["payment", "pay_token"] else None

        def do_POST(self) -> None:
            """Serve the token, webpayment, transactionstatus and the payment page."""
            path = urlparse(self.path).path
            if path == "/oauth/v3/token":
                self._token()
                return
            token = self._page_token()
            if token is not None:
                action = parse_qs(self._body().decode()).get("action", ["pay"])[0]
                with state.lock:
                    payment = state.by_token(token)
                if payment is None:
                    self._error(404, 404, "Not found")
                    return
                fake.answer(payment, action)
                # Our gateway down: the notification is lost, transactionstatus still tells.
                with contextlib.suppress(requests.RequestException):
                    fake.deliver_notifications()
                self._send(200, {"status": payment.status})
                return
            prefix = f"/orange-money-webpay/{state.country}/v1/"
            if not path.startswith(prefix):
                self._error(404, 404, "Resource not found")
                return
            if not self._authorised():
                return
            try:
                body = json.loads(self._body() or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._error(400, 400, "Bad request", "invalid JSON")
                return
            if path == prefix + "webpayment":
                self._webpayment(body)
            elif path == prefix + "transactionstatus":
                self._transaction_status(body)
            else:
                self._error(404, 404, "Resource not found")

        def _token(self) -> None:
            expected = base64.b64encode(f"{state.client_id}:{state.client_secret}".encode())
            form = parse_qs(self._body().decode())
            if self.headers.get("Authorization") != f"Basic {expected.decode()}":
                self._send(401, {"error": "invalid_client", "error_description": "bad credentials"})
                return
            if form.get("grant_type") != ["client_credentials"]:
                self._send(400, {"error": "unsupported_grant_type"})
                return
            token = secrets.token_hex(16)
            with state.lock:
                state.token_requests += 1
                state.tokens[token] = state.clock() + state.token_ttl
            self._send(
                200,
                {"token_type": "Bearer", "access_token": token, "expires_in": int(state.token_ttl)},
            )

        def _authorised(self) -> bool:
            auth = self.headers.get("Authorization", "")
            with state.lock:
                expiry = state.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
                now = state.clock()
            if expiry is None:
                self._error(401, 41, "Invalid credentials", "invalid access token")
                return False
            if now >= expiry:
                self._error(401, 42, "Expired credentials", "the access token expired")
                return False
            return True

        def _webpayment(self, body: dict[str, Any]) -> None:
            with state.lock:
                state.payment_requests.append(dict(body))
                refuse, state.refuse_next_payment = state.refuse_next_payment, False
            problem = self._invalid(body)
            if refuse or problem:
                self._error(400, 1, "Bad request", problem or "refused (scripted)")
                return
            with state.lock:
                if any(p.request["order_id"] == body["order_id"] for p in state.payments):
                    self._error(400, 1, "Duplicate order_id", "order_id already used")
                    return
                scripted = state.next_outcomes.pop(0) if state.next_outcomes else None
                pay_token = secrets.token_hex(16)
                payment = WebPayment(
                    pay_token=pay_token,
                    notif_token=secrets.token_hex(16),
                    request=dict(body),
                    created=state.clock(),
                    outcome=scripted or outcome_for(body["amount"]),
                )
                state.payments.append(payment)
                hang, state.hang_next_payment = state.hang_next_payment, 0.0
            if state.auto_seconds is not None:
                threading.Thread(target=fake._auto, daemon=True).start()
            if hang:
                time.sleep(hang)
            self._send(
                201,
                {
                    "status": 201,
                    "message": "OK",
                    "pay_token": pay_token,
                    "payment_url": f"{fake.url}/payment/pay_token/{pay_token}",
                    "notif_token": payment.notif_token,
                },
            )

        def _invalid(self, body: dict[str, Any]) -> str:
            missing = [name for name in _FIELDS if body.get(name) in (None, "")]
            if missing:
                return f"missing {missing[0]}"
            if body["merchant_key"] != state.merchant_key:
                return "unknown merchant_key"
            if body["currency"] != state.currency:
                return f"currency must be {state.currency}"
            amount = body["amount"]
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
                return "amount must be a positive integer"
            for name in ("order_id", "reference"):
                if len(str(body[name])) > MAX_ID_CHARS:
                    return f"{name} longer than {MAX_ID_CHARS}"
            for name in ("return_url", "cancel_url", "notif_url"):
                if len(str(body[name])) > MAX_URL_CHARS:
                    return f"{name} longer than {MAX_URL_CHARS}"
            return ""

        def _transaction_status(self, body: dict[str, Any]) -> None:
            with state.lock:
                state.status_queries.append(dict(body))
                state.expire_due()
                payment = state.by_token(str(body.get("pay_token", "")))
                found = (
                    payment is not None
                    and payment.request["order_id"] == body.get("order_id")
                    and payment.request["amount"] == body.get("amount")
                )
                answer = (
                    {"status": payment.status, "order_id": payment.request["order_id"],
                     "txnid": payment.txnid or None}
                    if found and payment is not None
                    else None
                )  # fmt: skip
            if answer is None:
                self._error(400, 1, "Bad request", "no such transaction")
                return
            self._send(201, answer)

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve the fake until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m fakes.orange", description=__doc__)
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument(
        "--auto-seconds", type=float, default=None, help="settle on its own after this"
    )
    args = parser.parse_args(argv)
    fake = FakeOrange(port=args.port)
    fake.state.auto_seconds = args.auto_seconds
    state = fake.state
    print(
        f"fake Orange Money Web Payment on {fake.url} (ORANGE_BASE_URL): client "
        f"{state.client_id} / {state.client_secret}, merchant key {state.merchant_key}"
    )
    fake.start()
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
