"""Orange Money Web Payment adapter (api.orange.com, `orange-money-webpay/{country}/v1`).

Facts (../shared/PROVIDERS.md §3):

- Token: POST /oauth/v3/token, HTTP Basic client_id:client_secret, form
  grant_type=client_credentials -> {token_type, access_token, expires_in}; cached until
  shortly before it expires, fetched again after a 401.
- Pay: POST /orange-money-webpay/{country}/v1/webpayment {merchant_key, currency, order_id,
  amount, return_url, cancel_url, notif_url, lang, reference} (order_id and reference <= 30
  characters, URLs <= 120) -> HTTP 201 {status, message, pay_token, payment_url, notif_token}.
- Notification to notif_url: {status, notif_token, txnid}; no order id, no amount.
- Status: POST …/v1/transactionstatus {order_id, amount, pay_token} -> HTTP 201 {status,
  order_id, txnid}; INITIATED, PENDING, EXPIRED (after 10 minutes), SUCCESS, FAILED.

Web Payment is not a USSD push: the customer opens `payment_url` in a browser and pays there
(number and a one-time code from Orange). `push` therefore returns the page in
`PushResult.payment_url` and the service sends it by SMS. Nothing is charged until someone
opens that page, so a push whose answer was lost (no pay_token, no link sent) is safe to
make again: `query` says NOT_FOUND then.

The notification is authenticated by its notif_token: the intent keeps
`<pay_token>#<sha256(notif_token)[:32]>` as its provider reference, and the notification's
token is hashed and compared in constant time. It is still never trusted alone: the service
confirms every notification through transactionstatus.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

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

NAME: Final = "orange"
MAX_ID_CHARS: Final = 30  # order_id and reference
MAX_URL_CHARS: Final = 120  # return_url, cancel_url, notif_url
DEV_CURRENCY: Final = "OUV"  # the dev platform's play currency
_TOKEN_MARGIN_SECONDS: Final = 60
_DIGEST_CHARS: Final = 32
STATES: Final[Mapping[str, PaymentState]] = {
    "INITIATED": PaymentState.PENDING,  # the page was created, nobody paid yet
    "PENDING": PaymentState.PENDING,  # the customer is paying
    "SUCCESS": PaymentState.SUCCEEDED,
    "FAILED": PaymentState.FAILED,
    "EXPIRED": PaymentState.FAILED,
}
REASONS: Final[Mapping[str, FailureReason]] = {
    "FAILED": FailureReason.OTHER,  # Orange does not say why
    "EXPIRED": FailureReason.TIMEOUT,  # not paid within 10 minutes
}


@dataclass(frozen=True, slots=True)
class OrangeConfig:
    """One Orange Money Web Payment merchant (developer.orange.com app + merchant key)."""

    base_url: str
    client_id: str
    client_secret: str
    merchant_key: str
    country: str = "dev"
    currency: str = DEV_CURRENCY
    return_url: str = ""
    cancel_url: str = ""
    timeout_seconds: float = 10.0


class OrangeError(RuntimeError):
    """Orange refused our credentials or answered something we cannot read."""


def compact_id(intent_id: str) -> str:
    """Return an intent id in 22 URL-safe characters (notif_url must stay under 120)."""
    return base64.urlsafe_b64encode(bytes.fromhex(intent_id)).decode().rstrip("=")


def intent_of(hint: str) -> str | None:
    """Return the intent id a notif_url's `intent` parameter names, None when unreadable."""
    if len(hint) == 32:
        return hint.lower() if all(c in "0123456789abcdefABCDEF" for c in hint) else None
    try:
        raw = base64.urlsafe_b64decode(hint + "=" * (-len(hint) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 16 else None


def order_id(intent: Intent) -> str:
    """Return the order_id of the intent's latest push (a new one per push attempt)."""
    return f"{intent.id[:27]}-{max(intent.push_attempts, 1) % 100:02d}"


def _digest(notif_token: str) -> str:
    return hashlib.sha256(notif_token.encode()).hexdigest()[:_DIGEST_CHARS]


def split_reference(reference: str | None) -> tuple[str | None, str | None]:
    """Return (pay_token, notif_token digest) from an intent's provider reference."""
    if not reference or "#" not in reference:
        return reference or None, None
    pay_token, _, digest = reference.rpartition("#")
    return pay_token or None, digest or None


class OrangeProvider:
    """Orange Money Web Payment: a payment page sent by SMS, notif_token, transactionstatus."""

    name = NAME
    pays_by_link = True

    def __init__(
        self,
        config: OrangeConfig,
        callback_url: Callable[[str, str], str],
        reference_of: Callable[[str], str | None],
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        # The merchant account's currency (OUV: the dev platform's play money).
        self.currencies = frozenset({config.currency})
        self._callback_url = callback_url
        self._reference_of = reference_of  # intent id -> its stored provider reference
        self._http = session or requests.Session()
        self._tokens = TokenCache(
            self._fetch_token,
            OrangeError,
            clock=clock,
            margin_seconds=_TOKEN_MARGIN_SECONDS,
            default_expires_in=3600.0,
        )

    def notif_url(self, intent_id: str) -> str:
        """Return the notif_url given to Orange for an intent."""
        return self._callback_url(self.name, compact_id(intent_id))

    # --- auth ----------------------------------------------------------------------------

    def _fetch_token(self) -> requests.Response:
        return self._http.post(
            f"{self._config.base_url}/oauth/v3/token",
            data={"grant_type": "client_credentials"},
            auth=(self._config.client_id, self._config.client_secret),
            headers={"Accept": "application/json"},
            timeout=self._config.timeout_seconds,
        )

    def _access_token(self) -> str:
        return self._tokens.get()

    def _forget_token(self) -> None:
        self._tokens.forget()

    def _post(self, path: str, body: Mapping[str, Any]) -> requests.Response:
        token = self._access_token()
        response = self._http.post(
            f"{self._config.base_url}/orange-money-webpay/{self._config.country}/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self._config.timeout_seconds,
        )
        if response.status_code == 401:  # expired or revoked early: next call fetches anew
            self._forget_token()
        return response

    # --- port ----------------------------------------------------------------------------

    def push(self, intent: Intent) -> PushResult:
        """Create the web payment; its page goes to the citizen by SMS (PushResult.payment_url)."""
        currency = self._config.currency
        if currency not in {DEV_CURRENCY, intent.currency}:
            return PushResult(
                PushOutcome.REJECTED,
                reason=FailureReason.OTHER,
                detail=f"ORANGE_CURRENCY {currency} cannot charge {intent.currency}",
            )
        body = {
            "merchant_key": self._config.merchant_key,
            "currency": currency,
            "order_id": order_id(intent),
            "amount": intent.amount,
            "return_url": self._config.return_url,
            "cancel_url": self._config.cancel_url,
            "notif_url": self.notif_url(intent.id),
            "lang": "en" if intent.lang == "en" else "fr",
            "reference": f"{intent.tax_code} {intent.assessment_reference}"[:MAX_ID_CHARS],
        }
        try:
            response = self._post("/webpayment", body)
        except OrangeError as exc:  # no token: the payment request itself was not sent
            return PushResult(PushOutcome.NOT_SENT, detail=str(exc))
        except requests.RequestException as exc:
            if never_connected(exc):
                return PushResult(PushOutcome.NOT_SENT, detail=type(exc).__name__)
            return PushResult(PushOutcome.UNKNOWN, detail=type(exc).__name__)
        if response.status_code == 401:
            return PushResult(PushOutcome.NOT_SENT, detail="HTTP 401")
        data = json_object(response)
        pay_token, url, notif = (data.get(k) for k in ("pay_token", "payment_url", "notif_token"))
        if (
            response.status_code == 201
            and all(isinstance(v, str) and v for v in (pay_token, url, notif))
            and "#" not in str(pay_token)
        ):
            return PushResult(
                PushOutcome.ACCEPTED,
                provider_reference=f"{pay_token}#{_digest(str(notif))}",
                payment_url=str(url),
            )
        if 400 <= response.status_code < 500:  # refused: no page exists
            detail = str(data.get("message") or data.get("description") or response.status_code)
            return PushResult(PushOutcome.REJECTED, reason=FailureReason.OTHER, detail=detail)
        # Created or not, nobody has its page: query() says NOT_FOUND and it is made again.
        return PushResult(PushOutcome.UNKNOWN, detail=f"HTTP {response.status_code}")

    def query(self, intent: Intent) -> StatusResult:
        """Ask transactionstatus about the intent's latest web payment."""
        pay_token, _ = split_reference(intent.provider_reference)
        if pay_token is None:
            # No pay_token means no page was ever sent to anyone: nothing can be paid.
            return StatusResult(PaymentState.NOT_FOUND, detail="no web payment link sent")
        body = {"order_id": order_id(intent), "amount": intent.amount, "pay_token": pay_token}
        try:
            response = self._post("/transactionstatus", body)
        except (OrangeError, requests.RequestException) as exc:
            return StatusResult(PaymentState.UNKNOWN, detail=type(exc).__name__)
        data = json_object(response)
        status = str(data.get("status", "")).upper()
        if response.status_code not in {200, 201} or status not in STATES:
            return StatusResult(PaymentState.UNKNOWN, detail=f"HTTP {response.status_code}")
        if data.get("order_id") not in (None, order_id(intent)):
            return StatusResult(PaymentState.UNKNOWN, detail="answer for another order_id")
        txnid = data.get("txnid")
        return StatusResult(
            STATES[status],
            reason=REASONS.get(status),
            provider_receipt=str(txnid)
            if STATES[status] is PaymentState.SUCCEEDED and txnid
            else None,
        )

    def parse_callback(self, body: str, params: Mapping[str, str]) -> CallbackEvent:
        """Parse {status, notif_token, txnid}; the notif_token must be the intent's own."""
        try:
            data = json.loads(body)
        except ValueError:
            raise CallbackParseError("not JSON") from None
        if not isinstance(data, dict):
            raise CallbackParseError("not a JSON object")
        status, token, txnid = data.get("status"), data.get("notif_token"), data.get("txnid")
        if not isinstance(status, str) or not isinstance(token, str) or not token:
            raise CallbackParseError("status and notif_token must be strings")
        intent_id = intent_of(params.get("intent", ""))
        if intent_id is None:
            raise CallbackParseError("the notif_url names no intent")
        _, expected = split_reference(self._reference_of(intent_id))
        if expected is None or not hmac.compare_digest(_digest(token), expected):
            raise CallbackAuthError("notif_token is not the one Orange gave for this payment")
        status = status.upper()
        if status not in {"SUCCESS", "FAILED", "EXPIRED"}:
            raise CallbackParseError(f"status {status!r} is not a final outcome")
        return CallbackEvent(
            succeeded=status == "SUCCESS",
            intent_id=intent_id,
            provider_reference=None,  # the notification carries no pay_token
            reason=REASONS.get(status),
            provider_receipt=str(txnid) if isinstance(txnid, str | int) and txnid else None,
        )
