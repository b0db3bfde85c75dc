"""Airtel Money Africa Open API adapter: collections by USSD push (docs: /work PROVIDERS.md §1).

- OAuth2: POST /auth/oauth2/token {client_id, client_secret, grant_type: client_credentials}
  -> {access_token, expires_in: "180", token_type}; `expires_in` is a string in Airtel's own
  sample; the token is cached until shortly before it expires.
- Push: POST /merchant/v1/payments/ with X-Country / X-Currency and
  {reference, subscriber: {country, currency, msisdn}, transaction: {amount, country, currency,
  id}}; msisdn without the country code; `transaction.id` is our intent id, the idempotency
  key (a reused id answers ESB000041, which means Airtel already has it). HTTP 200 with
  status.response_code DP00800001006 = "in process": accepted, not paid.
- Callback (URL configured on the Airtel app, not per request): {transaction: {id, message,
  status_code TS|TF, airtel_money_id}, hash?}. No amount, no msisdn: it only names the
  intent, and the service confirms it with the enquiry before anything moves.
- Enquiry: GET /standard/v1/payments/{id} -> data.transaction.status TS | TF | TA (ambiguous)
  | TIP (in progress) | TE (expired), status.response_code DP00800001xxx for the reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import phonenumbers
import requests

from payments.model import FailureReason, Intent
from payments.providers.base import (
    CallbackAuthError,
    CallbackEvent,
    CallbackParseError,
    PaymentState,
    PushOutcome,
    PushResult,
    StatusResult,
)
from payments.providers.http import json_object, never_connected
from payments.providers.oauth import TokenCache

NAME: Final = "airtel"
RESPONSE_PREFIX: Final = "DP00800001"
IN_PROCESS: Final = RESPONSE_PREFIX + "006"
DUPLICATE_ID: Final = "ESB000041"
NOT_FOUND_CODES: Final = frozenset({"ESB000045", RESPONSE_PREFIX + "025"})
# The documented DP00800001xxx outcomes that end a payment, in the citizen's terms.
RESPONSE_REASONS: Final[Mapping[str, FailureReason]] = {
    "002": FailureReason.WRONG_PIN,  # incorrect PIN
    "003": FailureReason.OTHER,  # over the withdrawal limit
    "004": FailureReason.OTHER,  # invalid amount
    "005": FailureReason.CANCELLED,  # the customer did not enter the PIN
    "007": FailureReason.INSUFFICIENT_FUNDS,  # not enough balance
    "008": FailureReason.CANCELLED,  # refused
    "010": FailureReason.OTHER,  # payee not permitted
    "024": FailureReason.TIMEOUT,  # timed out
    "029": FailureReason.TIMEOUT,  # expired
}
_TOKEN_MARGIN_SECONDS: Final = 30
_HASH_KEY: Final = "hash"


def reason_for(response_code: str | None) -> FailureReason:
    """Map an Airtel DP00800001xxx response code to our failure reason."""
    if response_code and response_code.startswith(RESPONSE_PREFIX):
        return RESPONSE_REASONS.get(response_code[len(RESPONSE_PREFIX) :], FailureReason.OTHER)
    return FailureReason.OTHER


def callback_hash(secret: str, transaction: Mapping[str, Any]) -> str:
    """Return the callback `hash` we expect: base64 HMAC-SHA256 of the compact `transaction` JSON.

    Airtel's exact algorithm (which bytes, which key) is unverified (README, "Airtel Money").
    """
    payload = json.dumps(transaction, separators=(",", ":"), ensure_ascii=False)
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class AirtelConfig:
    """Credentials and market of one Airtel Open API app."""

    base_url: str
    client_id: str
    client_secret: str
    country: str = "CD"
    currency: str = "CDF"
    callback_secret: str = ""
    timeout_seconds: float = 10.0


class AirtelError(RuntimeError):
    """Airtel refused our credentials or answered something we cannot read."""


class AirtelProvider:
    """USSD push collections through the Airtel Money Open API."""

    name = NAME

    def __init__(
        self,
        config: AirtelConfig,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        # One Open API app serves one currency (X-Currency): the one it was registered with.
        self.currencies = frozenset({config.currency})
        self._http = session or requests.Session()
        self._tokens = TokenCache(
            self._fetch_token,
            AirtelError,
            clock=clock,
            margin_seconds=_TOKEN_MARGIN_SECONDS,
            default_expires_in=0.0,
        )

    # --- auth ----------------------------------------------------------------------------

    def _fetch_token(self) -> requests.Response:
        return self._http.post(
            f"{self._config.base_url}/auth/oauth2/token",
            json={
                "client_id": self._config.client_id,
                "client_secret": self._config.client_secret,
                "grant_type": "client_credentials",
            },
            headers={"Content-Type": "application/json", "Accept": "*/*"},
            timeout=self._config.timeout_seconds,
        )

    def _access_token(self) -> str:
        return self._tokens.get()

    def _forget_token(self) -> None:
        self._tokens.forget()

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._access_token()}",
            "X-Country": self._config.country,
            "X-Currency": self._config.currency,
            "Content-Type": "application/json",
            "Accept": "*/*",
        }

    def msisdn(self, phone: str) -> str:
        """Return the national number Airtel wants ("Do not send country code in msisdn")."""
        try:
            number = phonenumbers.parse(phone, None)
        except phonenumbers.NumberParseException:
            return phone.lstrip("+")
        return str(number.national_number)

    # --- port ----------------------------------------------------------------------------

    def push(self, intent: Intent) -> PushResult:
        """Ask Airtel to prompt the phone; the intent id is the idempotency key."""
        country, currency = self._config.country, self._config.currency
        body = {
            "reference": f"{intent.tax_code} {intent.assessment_reference}"[:64],
            "subscriber": {
                "country": country,
                "currency": currency,
                "msisdn": self.msisdn(intent.phone),
            },
            "transaction": {
                "amount": intent.amount,
                "country": country,
                "currency": currency,
                "id": intent.id,
            },
        }
        try:
            headers = self._headers()
        except (AirtelError, requests.RequestException) as exc:  # the push itself never left
            return PushResult(PushOutcome.NOT_SENT, detail=f"token: {type(exc).__name__}")
        try:
            response = self._http.post(
                f"{self._config.base_url}/merchant/v1/payments/",
                json=body,
                headers=headers,
                timeout=self._config.timeout_seconds,
            )
        except requests.RequestException as exc:
            if never_connected(exc):
                return PushResult(PushOutcome.NOT_SENT, detail=type(exc).__name__)
            return PushResult(PushOutcome.UNKNOWN, detail=type(exc).__name__)
        if response.status_code == 401:  # token revoked early: Airtel did not process it
            self._forget_token()
            return PushResult(PushOutcome.NOT_SENT, detail="HTTP 401")
        status = _block(json_object(response), "status")
        result_code = str(status.get("result_code") or "")
        response_code = str(status.get("response_code") or "")
        if DUPLICATE_ID in {result_code, response_code}:
            # Airtel already has this id: the first push reached it; never prompt twice.
            return PushResult(
                PushOutcome.ACCEPTED, provider_reference=intent.id, detail="duplicate"
            )
        if response.status_code == 200 and status.get("success") is True:
            return PushResult(PushOutcome.ACCEPTED, provider_reference=intent.id)
        if response.status_code >= 500:
            # Airtel may or may not have queued it: the enquiry will tell, never re-push.
            return PushResult(PushOutcome.UNKNOWN, detail=f"HTTP {response.status_code}")
        detail = response_code or result_code or f"HTTP {response.status_code}"
        return PushResult(PushOutcome.REJECTED, reason=reason_for(response_code), detail=detail)

    def query(self, intent: Intent) -> StatusResult:
        """Ask the enquiry endpoint where our transaction id stands."""
        try:
            response = self._http.get(
                f"{self._config.base_url}/standard/v1/payments/{quote(intent.id, safe='')}",
                headers=self._headers(),
                timeout=self._config.timeout_seconds,
            )
        except (AirtelError, requests.RequestException) as exc:
            return StatusResult(PaymentState.UNKNOWN, detail=type(exc).__name__)
        if response.status_code == 401:
            self._forget_token()
        data = json_object(response)
        status = _block(data, "status")
        response_code = str(status.get("response_code") or "")
        result_code = str(status.get("result_code") or "")
        transaction = _block(_block(data, "data"), "transaction")
        state = str(transaction.get("status") or "").upper()
        receipt = transaction.get("airtel_money_id")
        if response.status_code == 404 or (
            not state and (result_code in NOT_FOUND_CODES or response_code in NOT_FOUND_CODES)
        ):
            return StatusResult(PaymentState.NOT_FOUND, detail=result_code or response_code)
        if response.status_code != 200 or not state:
            return StatusResult(PaymentState.UNKNOWN, detail=f"HTTP {response.status_code}")
        if state == "TS":
            return StatusResult(
                PaymentState.SUCCEEDED,
                provider_receipt=str(receipt) if isinstance(receipt, str | int) else None,
            )
        if state == "TF":
            return StatusResult(PaymentState.FAILED, reason=reason_for(response_code))
        if state == "TE":
            return StatusResult(PaymentState.FAILED, reason=FailureReason.TIMEOUT)
        if state == "TIP":
            return StatusResult(PaymentState.PENDING)
        # TA (ambiguous) and anything undocumented: nobody can say yet; keep asking.
        return StatusResult(PaymentState.UNKNOWN, detail=f"status {state}")

    def parse_callback(self, body: str, params: Mapping[str, str]) -> CallbackEvent:
        """Parse {transaction: {id, status_code, airtel_money_id, message}, hash?}."""
        try:
            data = json.loads(body)
        except ValueError:
            raise CallbackParseError("not JSON") from None
        transaction = data.get("transaction") if isinstance(data, dict) else None
        if not isinstance(transaction, dict):
            raise CallbackParseError("no transaction object")
        transaction_id, code = transaction.get("id"), transaction.get("status_code")
        if not isinstance(transaction_id, str) or not transaction_id:
            raise CallbackParseError("transaction.id must be a string")
        if code not in {"TS", "TF"}:
            raise CallbackParseError("transaction.status_code must be TS or TF")
        if self._config.callback_secret:
            presented = data.get(_HASH_KEY)
            expected = callback_hash(self._config.callback_secret, transaction)
            if not isinstance(presented, str) or not hmac.compare_digest(presented, expected):
                raise CallbackAuthError("hash missing or wrong")
        receipt = transaction.get("airtel_money_id")
        return CallbackEvent(
            succeeded=code == "TS",
            intent_id=transaction_id,
            provider_reference=transaction_id,
            # The callback carries only a message: the enquiry's response code gives the reason.
            reason=None if code == "TS" else FailureReason.OTHER,
            provider_receipt=str(receipt) if isinstance(receipt, str) and receipt else None,
        )


def _block(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}
