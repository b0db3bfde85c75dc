"""A fake Vodacom M-Pesa OpenAPI (market vodacomDRC by default) on 127.0.0.1: no real money.

Built from the public description (../shared/PROVIDERS.md §2, §8), not from our adapter:

- Paths `/{sandbox|openapi}/ipg/v2/{market}/getSession/`, `…/c2bPayment/singleStage/`,
  `…/queryTransactionStatus/`; every call needs `Authorization: Bearer <base64 RSA-PKCS#1-v1.5>`
  encrypted with the fake's public key (generated at start: `fake.public_key`) and an
  `Origin` header. getSession's bearer is the API key; the others' is a session id.
- A session is refused (HTTP 401) for `state.session_activation_seconds` after its creation
  and after `state.session_lifetime_seconds`, by the clock `state.clock` (tests may drive it).
- C2B validates the fields, holds the answer `delay` seconds (the customer typing the PIN),
  then answers the scripted INS code; a reused ThirdPartyConversationID gets INS-10 and
  nothing else happens.
- The status query answers per transaction (`status`, scriptable), in the market's spelling
  (`state.status_field`).

Scripting (what a test or a contract harness needs):

    fake = FakeVodacom().start()
    fake.script("INS-5")                            # the next C2B: cancelled by the customer
    fake.script("INS-0", delay=2.0)                 # answers after 2 s (a read timeout?)
    fake.script("INS-9", status="Pending")          # timed out; the query says Pending...
    fake.set_status(third_party_id, "Completed")    # ...until the customer's payment lands
    fake.state.session_activation_seconds = 30      # young sessions refused for 30 s
    fake.deliver_result(url, third_party_id)        # POST the async result to `url`

Unscripted C2Bs succeed (INS-0). Run it for development: `python -m fakes.vodacom --port 8091`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Final
from urllib.parse import parse_qs, urlparse

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fakes.server import LocalServer

DESCRIPTIONS: Final = {
    "INS-0": "Request processed successfully",
    "INS-1": "Internal Error",
    "INS-2": "Invalid API Key",
    "INS-5": "Transaction cancelled by customer",
    "INS-6": "Transaction Failed",
    "INS-9": "Request timeout",
    "INS-10": "Duplicate Transaction",
    "INS-13": "Invalid Shortcode Used",
    "INS-14": "Invalid Reference Used",
    "INS-20": "Not All Parameters Provided. Please try again.",
    "INS-21": "Parameter validations failed. Please try again.",
    "INS-2001": "Initiator authentication error.",
    "INS-2006": "Insufficient balance",
    "INS-2051": "MSISDN invalid.",
}
# The transaction status a later query gives after each C2B answer (scriptable per push).
DEFAULT_STATUS: Final = {"INS-0": "Completed", "INS-5": "Cancelled", "INS-9": "Expired"}
_HTTP: Final = {"INS-0": 201, "INS-9": 408, "INS-10": 409, "INS-1": 500}
_C2B_FIELDS: Final = (
    "input_Amount",
    "input_Country",
    "input_Currency",
    "input_CustomerMSISDN",
    "input_ServiceProviderCode",
    "input_ThirdPartyConversationID",
    "input_TransactionReference",
    "input_PurchasedItemsDesc",
)
_PATTERNS: Final = {
    "input_Amount": re.compile(r"^\d*\.?\d+$"),
    "input_CustomerMSISDN": re.compile(r"^[0-9]{12,14}$"),
    "input_ThirdPartyConversationID": re.compile(r"^[0-9a-zA-Z \w+]{1,40}$"),
    "input_TransactionReference": re.compile(r"^[0-9a-zA-Z \w+]{1,20}$"),
    "input_Currency": re.compile(r"^[a-zA-Z]{1,3}$"),
}
_QUERY_FIELDS: Final = (
    "input_QueryReference",
    "input_ServiceProviderCode",
    "input_ThirdPartyConversationID",
    "input_Country",
)


@dataclass(frozen=True, slots=True)
class Scripted:
    """How the fake answers one future C2B."""

    code: str = "INS-0"
    delay: float = 0.0  # seconds the answer is held (the PIN prompt)
    status: str | None = None  # what a later query says (DEFAULT_STATUS / "Failed")


@dataclass
class Transaction:
    """One C2B the fake received (duplicates are not transactions)."""

    request: dict[str, Any]
    code: str
    status: str
    transaction_id: str
    conversation_id: str

    @property
    def third_party_id(self) -> str:
        """Return the caller's ThirdPartyConversationID."""
        return str(self.request["input_ThirdPartyConversationID"])


@dataclass
class FakeVodacomState:
    """What the fake saw and what it will do next."""

    api_key: str
    service_provider_code: str
    market: str
    country: str
    currencies: frozenset[str]
    origin: str | None = None  # None: any Origin header (it must still be present)
    session_activation_seconds: float = 0.0
    session_lifetime_seconds: float = 3600.0
    pin_delay_seconds: float = 0.0  # unscripted C2Bs are held this long
    status_field: str = "output_ResponseTransactionStatus"  # or output_TransactionStatus
    clock: Callable[[], float] = time.monotonic
    sessions: dict[str, float] = field(default_factory=dict)  # id -> created (clock)
    session_requests: int = 0
    refused_young: int = 0  # calls refused because their session was not active yet
    transactions: list[Transaction] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # ThirdPartyConversationIDs reused
    queries: list[dict[str, str]] = field(default_factory=list)
    results_sent: list[tuple[str, int]] = field(default_factory=list)
    scripts: list[Scripted] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def find(self, reference: str) -> Transaction | None:
        """Return the transaction a reference names (ThirdParty, transaction or conversation id)."""
        for txn in self.transactions:
            if reference in {txn.third_party_id, txn.transaction_id, txn.conversation_id}:
                return txn
        return None


class FakeVodacom(LocalServer):
    """Run the fake on a port of 127.0.0.1 (ephemeral by default)."""

    def __init__(
        self,
        *,
        api_key: str = "fake-vodacom-api-key",
        service_provider_code: str = "000000",
        market: str = "vodacomDRC",
        country: str = "DRC",
        currencies: frozenset[str] = frozenset({"USD"}),
        environment: str = "sandbox",
        port: int = 0,
    ) -> None:
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.state = FakeVodacomState(api_key, service_provider_code, market, country, currencies)
        self.prefix = f"/{environment}/ipg/v2/{market}/"
        self._listen(_handler(self), port)

    @property
    def public_key(self) -> str:
        """Return the public key as the portal shows it (base64 DER SubjectPublicKeyInfo)."""
        der = self._private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    @property
    def url(self) -> str:
        """Return the base URL to configure (VODACOM_BASE_URL): host plus environment."""
        return f"{self.root}{self.prefix.split('/ipg/')[0]}"

    def decrypt(self, bearer: str) -> str | None:
        """Return the plain value of a bearer, or None when it is not ours."""
        try:
            raw = base64.b64decode(bearer, validate=True)
            return self._private.decrypt(raw, padding.PKCS1v15()).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None

    # --- scripting -----------------------------------------------------------------------

    def script(self, code: str, *, delay: float = 0.0, status: str | None = None) -> None:
        """Answer the next unscripted C2B with `code` after `delay` s; later queries: `status`."""
        with self.state.lock:
            self.state.scripts.append(Scripted(code, delay, status))

    def set_status(self, reference: str, status: str) -> None:
        """Change what the status query says about one transaction (e.g. "Completed")."""
        with self.state.lock:
            txn = self.state.find(reference)
            if txn is None:
                raise KeyError(reference)
            txn.status = status

    def c2b_count(self, msisdn: str | None = None) -> int:
        """Return how many C2B payments were processed (duplicates excluded)."""
        with self.state.lock:
            return sum(
                1
                for t in self.state.transactions
                if msisdn is None or t.request["input_CustomerMSISDN"] == msisdn
            )

    def result_body(self, txn: Transaction, code: str | None = None) -> dict[str, str]:
        """Return the async result OpenAPI posts for `txn`."""
        result = code or txn.code
        return {
            "input_OriginalConversationID": txn.conversation_id,
            "input_TransactionID": txn.transaction_id,
            "input_ResultCode": result,
            "input_ResultDesc": DESCRIPTIONS.get(result, "Error"),
            "input_ThirdPartyConversationID": txn.third_party_id,
        }

    def deliver_result(self, url: str, reference: str, *, code: str | None = None) -> int:
        """POST a transaction's async result to `url`; return the HTTP status."""
        with self.state.lock:
            txn = self.state.find(reference)
        if txn is None:
            raise KeyError(reference)
        response = requests.post(url, json=self.result_body(txn, code), timeout=10)
        with self.state.lock:
            self.state.results_sent.append((txn.third_party_id, response.status_code))
        return response.status_code


def _handler(fake: FakeVodacom) -> type[BaseHTTPRequestHandler]:
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

        def _code(self, status: int, code: str, **extra: Any) -> None:
            self._send(
                status,
                {"output_ResponseCode": code, "output_ResponseDesc": DESCRIPTIONS[code], **extra},
            )

        def _bearer(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or not self.headers.get("Origin"):
                return None
            if state.origin is not None and self.headers["Origin"] != state.origin:
                return None
            return fake.decrypt(auth[7:].strip())

        def _api(self) -> str | None:
            path = urlparse(self.path).path
            if not path.startswith(fake.prefix):
                return None
            return path[len(fake.prefix) :].strip("/")

        def _session_ok(self) -> bool:
            """Check the bearer names a live, active session; answer 401 otherwise."""
            session_id = self._bearer()
            now = state.clock()
            with state.lock:
                created = state.sessions.get(session_id or "")
                young = created is not None and now - created < state.session_activation_seconds
                if young:
                    state.refused_young += 1
            if created is None or young or now - created >= state.session_lifetime_seconds:
                self._code(401, "INS-2001")
                return False
            return True

        def do_GET(self) -> None:
            """Serve getSession and queryTransactionStatus."""
            api = self._api()
            if api == "getSession":
                self._session()
            elif api == "queryTransactionStatus":
                if self._session_ok():
                    self._query()
            else:
                self._send(404, {"error": "Not Found"})

        def do_POST(self) -> None:
            """Serve c2bPayment/singleStage."""
            if self._api() != "c2bPayment/singleStage":
                self._send(404, {"error": "Not Found"})
                return
            if not self._session_ok():
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._code(400, "INS-21")
                return
            if not isinstance(body, dict):
                self._code(400, "INS-21")
                return
            self._c2b(body)

        def _session(self) -> None:
            if self._bearer() != state.api_key:
                self._code(401, "INS-2")
                return
            session_id = uuid.uuid4().hex
            with state.lock:
                state.sessions[session_id] = state.clock()
                state.session_requests += 1
            self._send(
                200,
                {
                    "output_ResponseCode": "INS-0",
                    "output_ResponseDesc": DESCRIPTIONS["INS-0"],
                    "output_SessionID": session_id,
                },
            )

        def _c2b(self, body: dict[str, Any]) -> None:
            if any(not isinstance(body.get(name), str) or not body[name] for name in _C2B_FIELDS):
                self._code(400, "INS-20")
                return
            if any(not pattern.match(body[name]) for name, pattern in _PATTERNS.items()):
                self._code(400, "INS-21")
                return
            if body["input_ServiceProviderCode"] != state.service_provider_code:
                self._code(400, "INS-13")
                return
            if body["input_Country"] != state.country or body["input_Currency"] not in (
                state.currencies
            ):
                self._code(400, "INS-21")
                return
            third_party = body["input_ThirdPartyConversationID"]
            with state.lock:
                if state.find(third_party) is not None:
                    state.duplicates.append(third_party)
                    duplicate = True
                else:
                    duplicate = False
                    scripted = (
                        state.scripts.pop(0)
                        if state.scripts
                        else Scripted(delay=state.pin_delay_seconds)
                    )
                    txn = Transaction(
                        request=dict(body),
                        code=scripted.code,
                        status=scripted.status or DEFAULT_STATUS.get(scripted.code, "Failed"),
                        transaction_id=uuid.uuid4().hex[:12].upper(),
                        conversation_id=uuid.uuid4().hex,
                    )
                    state.transactions.append(txn)
            if duplicate:
                self._code(409, "INS-10", output_ThirdPartyConversationID=third_party)
                return
            if scripted.delay:
                time.sleep(scripted.delay)  # the customer reads the prompt and types the PIN
            answer: dict[str, Any] = {
                "output_ConversationID": txn.conversation_id,
                "output_ThirdPartyConversationID": third_party,
            }
            if txn.code == "INS-0":
                answer["output_TransactionID"] = txn.transaction_id
            self._code(_HTTP.get(txn.code, 400), txn.code, **answer)

        def _query(self) -> None:
            params = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
            with state.lock:
                state.queries.append(params)
            if any(not params.get(name) for name in _QUERY_FIELDS):
                self._code(400, "INS-20")
                return
            if params["input_ServiceProviderCode"] != state.service_provider_code:
                self._code(400, "INS-13")
                return
            with state.lock:
                txn = state.find(params["input_QueryReference"])
                status = txn.status if txn else ""
            if txn is None:
                self._code(400, "INS-14")
                return
            self._code(
                200,
                "INS-0",
                output_ConversationID=uuid.uuid4().hex,
                output_OriginalConversationID=txn.conversation_id,
                output_ThirdPartyConversationID=params["input_ThirdPartyConversationID"],
                output_TransactionID=txn.transaction_id,
                **{state.status_field: status},
            )

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve the fake on --port and print the settings that point Guichet at it."""
    parser = argparse.ArgumentParser(prog="python -m fakes.vodacom", description=__doc__)
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--activation-seconds", type=float, default=0.0)
    parser.add_argument("--pin-seconds", type=float, default=0.0, help="hold every C2B this long")
    parser.add_argument("--currency", default="USD", help="USD, or CDF for the demo city's bills")
    args = parser.parse_args(argv)
    fake = FakeVodacom(port=args.port, currencies=frozenset({args.currency}))
    fake.state.session_activation_seconds = args.activation_seconds
    fake.state.pin_delay_seconds = args.pin_seconds
    print("Fake Vodacom M-Pesa OpenAPI (no real money). Settings for Guichet:")
    print("PAYMENT_OPERATORS=mpesa:vodacom,airtel:sandbox,orange:sandbox")
    print(f"VODACOM_BASE_URL={fake.url}")
    print(f"VODACOM_API_KEY={fake.state.api_key}")
    print(f"VODACOM_SERVICE_PROVIDER_CODE={fake.state.service_provider_code}")
    print(f"VODACOM_PUBLIC_KEY={fake.public_key}")
    print(f"VODACOM_CURRENCY={args.currency}")
    if args.currency == "CDF":
        print("VODACOM_ALLOW_CDF=1")
    print("(only assessments in that currency can be paid)", flush=True)
    fake.start()
    try:
        fake._thread.join()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
