"""A fake Airtel Money Africa Open API (collections) on 127.0.0.1, from its public description.

Built from the documented shapes (PROVIDERS.md §1, §8), not from our adapter:

- `POST /auth/oauth2/token` JSON {client_id, client_secret, grant_type: client_credentials}
  -> 200 {access_token, expires_in: "180", token_type: "bearer"}; tokens expire after
  `token_ttl_seconds` on the fake's clock (then 401).
- `POST /merchant/v1/payments/` with Bearer, X-Country, X-Currency and {reference,
  subscriber: {country, currency, msisdn}, transaction: {amount, country, currency, id}}
  -> 200 {data: {transaction: {id, status: "SUCCESS"}}, status: {code: "200", message,
  result_code: "ESB000010", response_code: "DP00800001006" (in process), success: true}}.
  A reused `transaction.id` -> ESB000041 "Duplicate External Transaction ID" (no new prompt);
  an msisdn with the country code -> ESB000033.
- `GET /standard/v1/payments/{id}` -> data.transaction {airtel_money_id, id, message, status
  TIP | TS | TF | TA | TE} and status.response_code DP00800001xxx; unknown id -> ESB000045.
- The callback, POSTed to the URL configured "in the portal" (`callback_url`):
  {transaction: {id, message, status_code: TS | TF, airtel_money_id}} plus `hash` when
  callback authentication is on (`callback_secret`; base64 HMAC-SHA256 of the compact
  `transaction` JSON: Airtel's exact algorithm is unverified).

Each payment's outcome is scripted with `script(msisdn, Outcome)` or, by default, comes from
the amount's last two digits (see OUTCOME_BY_LAST_DIGITS). A payment stays TIP ("the customer
has not answered") until `complete()` (tests) or `callback_delay` seconds (development).

    python -m fakes.airtel --port 8081 --callback-url http://127.0.0.1:8000/payments/airtel/callback
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from http.server import BaseHTTPRequestHandler
from typing import Any, Final

import requests

from fakes.server import LocalServer

PREFIX: Final = "DP00800001"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happens to one payment once the customer has answered the prompt."""

    status: str  # the enquiry's final status: TS, TF, TA (ambiguous) or TE (expired)
    response_code: str  # the DP00800001xxx suffix
    message: str
    callback: bool = True  # Airtel POSTs a callback (only TS and TF have one)


class Outcomes(Enum):
    """The documented outcomes of a collection."""

    SUCCESS = Outcome("TS", "001", "Paid {currency} {amount} to GUICHET. Trans ID {airtel_id}.")
    WRONG_PIN = Outcome("TF", "002", "Incorrect Pin has been entered.")
    OVER_LIMIT = Outcome("TF", "003", "Exceeds withdrawal amount limit(s).")
    PIN_NOT_ENTERED = Outcome("TF", "005", "User didn't enter the pin.")
    INSUFFICIENT_FUNDS = Outcome("TF", "007", "Not enough balance.")
    REFUSED = Outcome("TF", "008", "Refused.")
    TIMED_OUT = Outcome("TF", "024", "Transaction Timed Out.")
    EXPIRED = Outcome("TE", "029", "Transaction Expired.", callback=False)
    AMBIGUOUS = Outcome("TA", "000", "Transaction is ambiguous.", callback=False)


OUTCOME_BY_LAST_DIGITS: Final[dict[int, Outcomes]] = {
    1: Outcomes.PIN_NOT_ENTERED,
    2: Outcomes.INSUFFICIENT_FUNDS,
    3: Outcomes.EXPIRED,  # no callback: reconciliation finds it
    4: Outcomes.WRONG_PIN,
    5: Outcomes.OVER_LIMIT,
    6: Outcomes.AMBIGUOUS,
    7: Outcomes.TIMED_OUT,
    8: Outcomes.REFUSED,
}


def outcome_for(amount: int) -> Outcomes:
    """Return the default outcome of `amount` (by its last two digits)."""
    return OUTCOME_BY_LAST_DIGITS.get(amount % 100, Outcomes.SUCCESS)


def airtel_money_id() -> str:
    """Return a new Airtel Money transaction id in the documented shape (MP210603.1234.L06941)."""
    serial = uuid.uuid4().int
    return f"MP{time.strftime('%y%m%d')}.{serial % 10**4:04d}.L{serial // 10**4 % 10**5:05d}"


def callback_hash(secret: str, transaction: dict[str, Any]) -> str:
    """Return the `hash` the fake adds when callback authentication is on."""
    payload = json.dumps(transaction, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.b64encode(hmac.new(secret.encode(), payload, hashlib.sha256).digest()).decode()


@dataclass
class Payment:
    """One collection the fake accepted."""

    id: str
    request: dict[str, Any]
    outcome: Outcome
    airtel_money_id: str
    answered: bool = False  # the customer answered the prompt (or it expired)
    callbacks_sent: int = 0
    drop_callback: bool = False  # the callback gets lost on the way

    @property
    def status(self) -> str:
        """Return the enquiry's status now."""
        return self.outcome.status if self.answered else "TIP"

    def message(self) -> str:
        """Return the outcome's message with this payment's details."""
        transaction = self.request["transaction"]
        return self.outcome.message.format(
            currency=transaction["currency"],
            amount=transaction["amount"],
            airtel_id=self.airtel_money_id,
        )


@dataclass
class FakeAirtelState:
    """What the fake saw and what it will do next."""

    client_id: str
    client_secret: str
    country: str
    currency: str
    country_code: str  # the dialling code an msisdn must not start with
    callback_url: str = ""
    callback_secret: str = ""  # non-empty: "callback authentication" is on, `hash` is sent
    token_ttl_seconds: float = 180.0
    clock: Callable[[], float] = time.monotonic
    token_requests: int = 0
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry on `clock`
    payments: dict[str, Payment] = field(default_factory=dict)
    push_requests: int = 0
    duplicates: int = 0
    enquiries: list[str] = field(default_factory=list)
    scripted: dict[str, list[Outcome]] = field(default_factory=dict)  # msisdn -> next outcomes
    down: bool = False  # every endpoint answers 503
    hang_next_push: float = 0.0  # sleep after recording the next push (a client timeout)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeAirtel(LocalServer):
    """Serve the fake Airtel Open API on 127.0.0.1 (port 0: a free one)."""

    def __init__(
        self,
        *,
        client_id: str = "fake-airtel-client",
        client_secret: str = "fake-airtel-secret",  # noqa: S107 - a fake's fixed credential
        country: str = "CD",
        currency: str = "CDF",
        country_code: str = "243",
        callback_url: str = "",
        callback_secret: str = "",
        callback_delay: float | None = None,
        port: int = 0,
    ) -> None:
        self.state = FakeAirtelState(
            client_id,
            client_secret,
            country,
            currency,
            country_code,
            callback_url=callback_url,
            callback_secret=callback_secret,
        )
        # None: the customer answers when a test calls complete(); seconds: on a timer.
        self.callback_delay = callback_delay
        self._listen(_handler(self), port)

    # --- scripting -------------------------------------------------------------------------

    def script(self, msisdn: str, *outcomes: Outcomes | Outcome) -> None:
        """Give the next payments from `msisdn` (national number) these outcomes, in order."""
        with self.state.lock:
            self.state.scripted.setdefault(msisdn, []).extend(
                o.value if isinstance(o, Outcomes) else o for o in outcomes
            )

    def expire_tokens(self) -> None:
        """Revoke every token issued so far (the next call with one gets 401)."""
        with self.state.lock:
            self.state.tokens.clear()

    def payment(self, transaction_id: str) -> Payment:
        """Return the payment with our client's transaction id."""
        with self.state.lock:
            return self.state.payments[transaction_id]

    def prompts(self, msisdn: str | None = None) -> int:
        """Return how many PIN prompts the fake sent (one per accepted transaction id)."""
        with self.state.lock:
            return sum(
                1
                for p in self.state.payments.values()
                if msisdn is None or p.request["subscriber"]["msisdn"] == msisdn
            )

    def settle(self, transaction_id: str, outcome: Outcomes | Outcome) -> None:
        """Change what a payment ends as (before or after the customer answered)."""
        with self.state.lock:
            payment = self.state.payments[transaction_id]
            payment.outcome = outcome.value if isinstance(outcome, Outcomes) else outcome

    # --- callbacks -------------------------------------------------------------------------

    def callback_body(self, transaction_id: str) -> dict[str, Any]:
        """Return the callback Airtel POSTs for a payment (its current final status)."""
        with self.state.lock:
            payment = self.state.payments[transaction_id]
            secret = self.state.callback_secret
        transaction = {
            "id": payment.id,
            "message": payment.message(),
            "status_code": payment.outcome.status,
            "airtel_money_id": payment.airtel_money_id,
        }
        body: dict[str, Any] = {"transaction": transaction}
        if secret:
            body["hash"] = callback_hash(secret, transaction)
        return body

    def post_callback(self, transaction_id: str, *, timeout: float = 10.0) -> int:
        """POST a payment's callback to the configured URL; return the HTTP status."""
        response = requests.post(
            self.state.callback_url, json=self.callback_body(transaction_id), timeout=timeout
        )
        with self.state.lock:
            self.state.payments[transaction_id].callbacks_sent += 1
        return response.status_code

    def complete(self, *, timeout: float = 10.0) -> list[int]:
        """Let every waiting customer answer; POST the callbacks due; return their statuses."""
        with self.state.lock:
            due = [p for p in self.state.payments.values() if not p.answered]
            for payment in due:
                payment.answered = True
        return [
            self.post_callback(p.id, timeout=timeout)
            for p in due
            if p.outcome.callback and not p.drop_callback
        ]

    def _answer_later(self, transaction_id: str) -> None:
        def run() -> None:
            with self.state.lock:
                payment = self.state.payments[transaction_id]
                payment.answered = True
                send = payment.outcome.callback and not payment.drop_callback
            if send and self.state.callback_url:
                try:
                    self.post_callback(transaction_id)
                except requests.RequestException as error:
                    print(f"fake airtel: callback for {transaction_id} failed: {error}")

        timer = threading.Timer(self.callback_delay or 0.0, run)
        timer.daemon = True
        timer.start()

    # --- request handling (called by the HTTP handler) ------------------------------------

    def new_payment(self, body: dict[str, Any]) -> tuple[Payment | None, bool]:
        """Record a collection; return (payment, False), or (the earlier one, True) on reuse."""
        transaction = body["transaction"]
        msisdn = body["subscriber"]["msisdn"]
        with self.state.lock:
            self.state.push_requests += 1
            existing = self.state.payments.get(transaction["id"])
            if existing is not None:
                self.state.duplicates += 1
                return existing, True
            scripted = self.state.scripted.get(msisdn)
            outcome = scripted.pop(0) if scripted else outcome_for(int(transaction["amount"])).value
            payment = Payment(
                id=transaction["id"],
                request=body,
                outcome=outcome,
                airtel_money_id=airtel_money_id(),
            )
            self.state.payments[payment.id] = payment
        if self.callback_delay is not None:
            self._answer_later(payment.id)
        return payment, False


_MSISDN: Final = re.compile(r"\d{6,12}")


def _status(
    code: int, message: str, result_code: str, response_code: str, success: bool
) -> dict[str, Any]:
    return {
        "code": str(code),
        "message": message,
        "result_code": result_code,
        "response_code": response_code,
        "success": success,
    }


def _handler(fake: FakeAirtel) -> type[BaseHTTPRequestHandler]:
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

        def _fail(self, http: int, message: str, result_code: str, response_code: str = "") -> None:
            self._send(http, {"status": _status(http, message, result_code, response_code, False)})

        def _body(self) -> dict[str, Any] | None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                return None
            return body if isinstance(body, dict) else None

        def _authorised(self) -> bool:
            auth = self.headers.get("Authorization", "")
            with state.lock:
                expires = state.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
            if expires is None or state.clock() >= expires:
                self._send(
                    401,
                    {"error_description": "Invalid or expired token", "error": "invalid_token"},
                )
                return False
            if self.headers.get("X-Country") != state.country:
                self._fail(400, "Invalid country", "ROUTER003")
                return False
            if self.headers.get("X-Currency") != state.currency:
                self._fail(400, "Invalid currency for the country", "ROUTER005")
                return False
            return True

        def do_POST(self) -> None:
            """Serve the token and the collection endpoints."""
            if state.down:
                self._fail(503, "Service Unavailable", "ESB000001")
                return
            if self.path == "/auth/oauth2/token":
                self._token()
            elif self.path == "/merchant/v1/payments/":
                if self._authorised():
                    self._collect()
            else:
                self._fail(404, "Resource not found", "ROUTER001")

        def do_GET(self) -> None:
            """Serve the transaction enquiry."""
            if state.down:
                self._fail(503, "Service Unavailable", "ESB000001")
                return
            prefix = "/standard/v1/payments/"
            if not self.path.startswith(prefix) or len(self.path) == len(prefix):
                self._fail(404, "Resource not found", "ROUTER001")
                return
            if self._authorised():
                self._enquiry(self.path[len(prefix) :])

        def _token(self) -> None:
            body = self._body()
            if body is None or body.get("grant_type") != "client_credentials":
                self._send(400, {"error": "invalid_request", "error_description": "grant_type"})
                return
            if (body.get("client_id"), body.get("client_secret")) != (
                state.client_id,
                state.client_secret,
            ):
                self._send(401, {"error": "invalid_client", "error_description": "Bad credentials"})
                return
            token = uuid.uuid4().hex
            with state.lock:
                state.token_requests += 1
                state.tokens[token] = state.clock() + state.token_ttl_seconds
            expires = str(int(state.token_ttl_seconds))
            self._send(200, {"access_token": token, "expires_in": expires, "token_type": "bearer"})

        def _collect(self) -> None:
            body = self._body() or {}
            subscriber, transaction = body.get("subscriber"), body.get("transaction")
            if not isinstance(subscriber, dict) or not isinstance(transaction, dict):
                self._fail(400, "Invalid request", "ESB000008")
                return
            msisdn, amount, tid = (
                subscriber.get("msisdn"),
                transaction.get("amount"),
                transaction.get("id"),
            )
            if not isinstance(tid, str) or not tid:
                self._fail(400, "transaction.id is mandatory", "ESB000008")
                return
            if not isinstance(amount, int | float) or isinstance(amount, bool) or amount <= 0:
                self._fail(400, "Invalid Amount", "ESB000008", PREFIX + "004")
                return
            msisdn_text = str(msisdn or "")
            if not _MSISDN.fullmatch(msisdn_text) or msisdn_text.startswith(state.country_code):
                # "Do not send country code in msisdn".
                self._fail(400, "Invalid MSISDN", "ESB000033")
                return
            for block in (subscriber, transaction):
                if (block.get("country"), block.get("currency")) != (state.country, state.currency):
                    self._fail(400, "Invalid country or currency", "ESB000008")
                    return
            payment, duplicate = fake.new_payment(body)
            assert payment is not None
            if duplicate:
                self._fail(400, "Duplicate External Transaction ID", "ESB000041")
                return
            with state.lock:
                hang, state.hang_next_push = state.hang_next_push, 0.0
            if hang:
                time.sleep(hang)
            self._send(
                200,
                {
                    "data": {"transaction": {"id": tid, "status": "SUCCESS"}},
                    "status": _status(200, "SUCCESS", "ESB000010", PREFIX + "006", True),
                },
            )

        def _enquiry(self, tid: str) -> None:
            with state.lock:
                state.enquiries.append(tid)
                payment = state.payments.get(tid)
            if payment is None:
                self._fail(404, "Transaction not found", "ESB000045", PREFIX + "025")
                return
            status = payment.status
            response_code = PREFIX + (payment.outcome.response_code if payment.answered else "006")
            self._send(
                200,
                {
                    "data": {
                        "transaction": {
                            "airtel_money_id": payment.airtel_money_id if status == "TS" else "",
                            "id": payment.id,
                            "message": payment.message() if payment.answered else "In process",
                            "status": status,
                        }
                    },
                    "status": _status(200, "SUCCESS", "ESB000010", response_code, True),
                },
            )

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake Airtel Open API until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m fakes.airtel", description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--callback-url", default="", help="our /payments/airtel/callback URL")
    parser.add_argument("--callback-secret", default="", help="turn callback authentication on")
    parser.add_argument("--callback-delay", type=float, default=3.0, help="seconds to answer")
    parser.add_argument("--client-id", default="fake-airtel-client")
    parser.add_argument("--client-secret", default="fake-airtel-secret")
    parser.add_argument("--country", default="CD")
    parser.add_argument("--currency", default="CDF")
    args = parser.parse_args(argv)
    fake = FakeAirtel(
        client_id=args.client_id,
        client_secret=args.client_secret,
        country=args.country,
        currency=args.currency,
        callback_url=args.callback_url,
        callback_secret=args.callback_secret,
        callback_delay=args.callback_delay,
        port=args.port,
    )
    print(f"fake Airtel Open API on {fake.url} (outcomes by amount: README, Airtel Money)")
    with contextlib.suppress(KeyboardInterrupt):
        fake.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
