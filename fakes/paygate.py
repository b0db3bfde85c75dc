"""A fake PayGateGlobal API (Togo: Flooz and T-Money) on 127.0.0.1, for tests and development.

Built from ../shared/PROVIDERS.md §4b and §8, not from our adapter:

- `POST /api/v1/pay` {auth_token, phone_number, amount, description, identifier, network}
  -> HTTP 200 {tx_reference, status}: 0 recorded, 2 bad auth_token, 4 bad parameters
  (phone not 8 digits, amount not a positive integer, network not FLOOZ|TMONEY, identifier
  missing), 6 duplicate identifier (nothing new is charged).
- `POST /api/v1/status` {auth_token, tx_reference} and `POST /api/v2/status` {auth_token,
  identifier} -> HTTP 200 {tx_reference, identifier, payment_reference, status, datetime,
  payment_method}: 0 paid, 2 pending, 4 expired, 6 cancelled.
- The callback: the same PaymentStatus fields plus amount and phone_number, POSTed to the
  one URL configured in the dashboard (`callback_url`), unsigned.

Unverified, chosen here and said so: a status query with a bad token or an unknown
reference answers HTTP 401 / 404 with {"error": ...}; failed payments get a callback too
(with their status), expired ones none.

Scripting (`fake.state`, all under `state.lock`):
- the customer's answer is chosen by the amount's last two digits like the other fakes:
  `01` cancelled (6), `03` never answered (expires: 4, no callback), anything else paid (0);
  `state.next_outcomes` (a list of 0/2/4/6) overrides it for the next payments, in order
  (2: still pending after `settle()`, until `finish(identifier, status)`);
- `payment(identifier)` finds a payment (identifier = the intent id), `redeliver(identifier)`
  POSTs its callback again;
- `settle()` makes every pending payment reach its outcome (the customer answered);
  `deliver_callbacks()` POSTs the undelivered callbacks and returns their HTTP statuses;
  `settle()` without `deliver_callbacks()` is a lost callback;
- `state.refuse_next_pay = 2|4` answers the next pay with that status;
  `state.hang_next_pay = seconds` records the next pay, then answers late (a client timeout);
  `state.break_next_pay = True` records the next pay, then answers HTTP 500 (HTML);
  `state.callback_format = "form"` sends callbacks as a form instead of JSON.

Run it for development: `python -m fakes.paygate --port 8091 --callback-url
http://127.0.0.1:8000/payments/paygate/callback --auto-seconds 5` (payments then settle and
call back on their own).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Final

import requests

from fakes.server import LocalServer

RECORDED: Final = 0
BAD_TOKEN: Final = 2
BAD_PARAMS: Final = 4
DUPLICATE: Final = 6
PAID: Final = 0
PENDING: Final = 2
EXPIRED: Final = 4
CANCELLED: Final = 6
OUTCOMES_BY_AMOUNT: Final = {1: CANCELLED, 3: EXPIRED}
NETWORKS: Final = {"FLOOZ": "FLOOZ", "TMONEY": "T-Money"}
DEFAULT_TOKEN: Final = "fake-paygate-auth-token"  # noqa: S105 - a fake's fixed credential


@dataclass
class Payment:
    """One payment PayGate recorded."""

    tx_reference: str
    identifier: str
    request: dict[str, Any]
    outcome: int  # what the customer will do: PAID, EXPIRED or CANCELLED
    status: int = PENDING
    payment_reference: str = ""
    datetime: str = ""

    def as_status(self) -> dict[str, Any]:
        """Return the PaymentStatus fields of this payment."""
        return {
            "tx_reference": self.tx_reference,
            "identifier": self.identifier,
            "payment_reference": self.payment_reference,
            "status": self.status,
            "datetime": self.datetime,
            "payment_method": NETWORKS[self.request["network"]],
        }


@dataclass
class FakePayGateState:
    """What the fake saw and what it does next."""

    auth_token: str = DEFAULT_TOKEN
    callback_url: str = ""
    payments: list[Payment] = field(default_factory=list)
    pay_requests: list[dict[str, Any]] = field(default_factory=list)  # every POST /api/v1/pay
    status_queries: list[str] = field(default_factory=list)  # identifiers or tx_references
    callbacks_sent: list[tuple[str, int]] = field(default_factory=list)
    next_outcomes: list[int] = field(default_factory=list)
    refuse_next_pay: int | None = None
    hang_next_pay: float = 0.0
    break_next_pay: bool = False  # record the next pay, then answer HTTP 500 (not JSON)
    callback_format: str = "json"
    auto_seconds: float | None = None  # settle and call back on their own (development)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def find(self, *, identifier: str = "", tx_reference: str = "") -> Payment | None:
        """Return the payment with that identifier or tx_reference."""
        for payment in self.payments:
            if (identifier and payment.identifier == identifier) or (
                tx_reference and payment.tx_reference == tx_reference
            ):
                return payment
        return None


def outcome_for(amount: int) -> int:
    """Return the final status the fake gives a payment of `amount`."""
    return OUTCOMES_BY_AMOUNT.get(amount % 100, PAID)


def callback_body(payment: Payment) -> dict[str, Any]:
    """Return the callback PayGate sends for a settled payment."""
    return {
        **payment.as_status(),
        "amount": payment.request["amount"],
        "phone_number": payment.request["phone_number"],
    }


class FakePayGate(LocalServer):
    """Serve the fake on 127.0.0.1 (port 0: any free one)."""

    def __init__(self, *, auth_token: str = DEFAULT_TOKEN, port: int = 0) -> None:
        self.state = FakePayGateState(auth_token=auth_token)
        self._listen(_handler(self), port)

    def payment(self, identifier: str) -> Payment | None:
        """Return the payment recorded for `identifier` (our intent id)."""
        with self.state.lock:
            return self.state.find(identifier=identifier)

    def finish(self, identifier: str, status: int) -> None:
        """End one payment now as PAID, EXPIRED or CANCELLED (e.g. an ambiguous one)."""
        with self.state.lock:
            payment = self.state.find(identifier=identifier)
            assert payment is not None, f"no payment {identifier}"
            payment.outcome = status
            payment.status = PENDING
        self.settle()

    def settle(self) -> list[Payment]:
        """Let every pending payment reach its scripted outcome; return them.

        An outcome of PENDING (via `next_outcomes`) never ends: the customer is still on the
        prompt, the status query keeps answering 2 (`finish()` ends it).
        """
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        settled = []
        with self.state.lock:
            for payment in self.state.payments:
                if payment.status == PENDING and payment.outcome != PENDING:
                    payment.status = payment.outcome
                    payment.datetime = stamp
                    if payment.outcome == PAID:
                        payment.payment_reference = f"{uuid.uuid4().int % 10**10:010d}"
                    settled.append(payment)
        return settled

    def redeliver(self, identifier: str, *, timeout: float = 10.0) -> int:
        """POST one payment's callback again (PayGate retries); return the HTTP status."""
        with self.state.lock:
            payment = self.state.find(identifier=identifier)
            assert payment is not None, f"no payment {identifier}"
            body, url = callback_body(payment), self.state.callback_url
        return requests.post(url, json=body, timeout=timeout).status_code

    def deliver_callbacks(self, *, timeout: float = 10.0) -> list[int]:
        """POST each settled payment's callback once (expired ones get none)."""
        with self.state.lock:
            sent = {ref for ref, _ in self.state.callbacks_sent}
            due = [
                p
                for p in self.state.payments
                if p.status in {PAID, CANCELLED} and p.tx_reference not in sent
            ]
            url, form = self.state.callback_url, self.state.callback_format == "form"
        statuses = []
        for payment in due:
            body = callback_body(payment)
            response = (
                requests.post(url, data=body, timeout=timeout)
                if form
                else requests.post(url, json=body, timeout=timeout)
            )
            with self.state.lock:
                self.state.callbacks_sent.append((payment.tx_reference, response.status_code))
            statuses.append(response.status_code)
        return statuses

    def _auto(self) -> None:
        time.sleep(self.state.auto_seconds or 0.0)
        self.settle()
        try:
            self.deliver_callbacks()
        except requests.RequestException as error:  # our gateway is not running
            print(f"callback not delivered: {error}", flush=True)


def _handler(fake: FakePayGate) -> type[BaseHTTPRequestHandler]:
    state = fake.state

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

        def do_POST(self) -> None:
            """Serve pay and both status endpoints."""
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._send(400, {"error": "invalid JSON"})
                return
            if self.path == "/api/v1/pay":
                self._pay(body)
            elif self.path in {"/api/v1/status", "/api/v2/status"}:
                self._status(body, by_identifier=self.path == "/api/v2/status")
            else:
                self._send(404, {"error": "not found"})

        def _pay(self, body: dict[str, Any]) -> None:
            with state.lock:
                state.pay_requests.append(dict(body))
                refuse, state.refuse_next_pay = state.refuse_next_pay, None
            if body.get("auth_token") != state.auth_token:
                self._send(200, {"status": BAD_TOKEN})
                return
            phone, amount = str(body.get("phone_number", "")), body.get("amount")
            identifier = body.get("identifier")
            if (
                refuse == BAD_PARAMS
                or not (len(phone) == 8 and phone.isdigit())
                or not isinstance(amount, int)
                or isinstance(amount, bool)
                or amount < 1
                or body.get("network") not in NETWORKS
                or not isinstance(identifier, str)
                or not identifier
            ):
                self._send(200, {"status": BAD_PARAMS})
                return
            if refuse == BAD_TOKEN:
                self._send(200, {"status": BAD_TOKEN})
                return
            with state.lock:
                if state.find(identifier=identifier) is not None:
                    duplicate = True
                else:
                    duplicate = False
                    outcome = state.next_outcomes.pop(0) if state.next_outcomes else None
                    payment = Payment(
                        tx_reference=f"{uuid.uuid4().int % 10**8:08d}",
                        identifier=identifier,
                        request=dict(body),
                        outcome=outcome_for(amount) if outcome is None else outcome,
                    )
                    state.payments.append(payment)
                hang, state.hang_next_pay = state.hang_next_pay, 0.0
                broken, state.break_next_pay = state.break_next_pay, False
            if duplicate:
                self._send(200, {"status": DUPLICATE})
                return
            if state.auto_seconds is not None:
                threading.Thread(target=fake._auto, daemon=True).start()
            if hang:
                time.sleep(hang)
            if broken:
                raw = b"<html>500 Internal Server Error</html>"
                self.send_response(500)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                return
            self._send(200, {"tx_reference": payment.tx_reference, "status": RECORDED})

        def _status(self, body: dict[str, Any], *, by_identifier: bool) -> None:
            if body.get("auth_token") != state.auth_token:
                self._send(401, {"error": "invalid auth_token"})
                return
            key = str(body.get("identifier" if by_identifier else "tx_reference", ""))
            with state.lock:
                state.status_queries.append(key)
                payment = (
                    state.find(identifier=key) if by_identifier else state.find(tx_reference=key)
                )
                answer = payment.as_status() if payment else None
            if answer is None:
                self._send(404, {"error": "transaction not found"})
                return
            self._send(200, answer)

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve the fake until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m fakes.paygate", description=__doc__)
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--auth-token", default=DEFAULT_TOKEN)
    parser.add_argument("--callback-url", default="", help="our callback URL (dashboard)")
    parser.add_argument("--auto-seconds", type=float, default=5.0, help="settle after this")
    args = parser.parse_args(argv)
    fake = FakePayGate(auth_token=args.auth_token, port=args.port)
    fake.state.callback_url = args.callback_url
    fake.state.auto_seconds = args.auto_seconds
    print(f"fake PayGateGlobal on {fake.url} (PAYGATE_BASE_URL), token {args.auth_token}")
    fake.start()
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
