"""Vodacom M-Pesa OpenAPI (DRC, TZ, LS, MZ, GH) customer-to-business single-stage adapter.

Facts and sources: ../shared/PROVIDERS.md §2 (go-vodacom-sdk docs and code).

- URLs: `{VODACOM_BASE_URL}/ipg/v2/{market}/<api>/`, base `https://openapi.m-pesa.com/sandbox`
  or `…/openapi`; every call sends `Origin` (the portal app's origin) and
  `Authorization: Bearer base64(RSA-PKCS#1-v1.5(public key, value))`.
- Session: `GET getSession/` with value = the portal API key -> `{output_ResponseCode: "INS-0",
  output_SessionID}`; a new session can take up to 30 s to become active, and later calls use
  value = the session id.
- Push: `POST c2bPayment/singleStage/` `{input_Amount, input_Country, input_Currency,
  input_CustomerMSISDN, input_ServiceProviderCode, input_ThirdPartyConversationID,
  input_TransactionReference, input_PurchasedItemsDesc}` answers only once the customer has
  answered the PIN prompt: `{output_ResponseCode: "INS-0", output_TransactionID,
  output_ConversationID, output_ThirdPartyConversationID}` or another INS code. So it runs in
  the push job with a long read timeout, never in a USSD hop. Our intent id is the
  ThirdPartyConversationID: a repeat gets INS-10 (duplicate) instead of a second charge.
- Status: `GET queryTransactionStatus/?input_QueryReference&input_ServiceProviderCode&
  input_ThirdPartyConversationID&input_Country` -> `output_ResponseTransactionStatus` or
  `output_TransactionStatus` (the spelling depends on the market).
- Async result (markets that send one): `{input_OriginalConversationID, input_TransactionID,
  input_ResultCode, input_ResultDesc, input_ThirdPartyConversationID}`, acknowledged with
  `{output_OriginalConversationID, output_ResponseCode: "0", output_ResponseDesc:
  "Successfully Accepted Result", output_ThirdPartyConversationID}`; it is unsigned, so the
  payment service confirms it with the status query.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import requests
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key

from payments.model import FailureReason, Intent
from payments.providers.base import (
    CallbackEvent,
    CallbackParseError,
    PaymentState,
    PushOutcome,
    PushResult,
    StatusResult,
)
from payments.providers.http import json_object, never_connected

NAME: Final = "vodacom"
OK: Final = "INS-0"
DUPLICATE: Final = "INS-10"
TIMED_OUT: Final = "INS-9"
# Market -> (input_Country, currencies its public samples use). PROVIDERS.md §2.
MARKETS: Final[Mapping[str, tuple[str, frozenset[str]]]] = {
    "vodacomDRC": ("DRC", frozenset({"USD"})),
    "vodacomTZN": ("TZN", frozenset({"TZS"})),
    "vodacomLES": ("LES", frozenset({"LSL"})),
    "vodacomMOZ": ("MOZ", frozenset({"MZN"})),
    "vodafoneGHA": ("GHA", frozenset({"GHS"})),
}
# One DRC sample uses CDF; whether a shortcode takes it is for Vodacom to confirm.
UNVERIFIED_CURRENCIES: Final[Mapping[str, frozenset[str]]] = {"vodacomDRC": frozenset({"CDF"})}
REASONS: Final[Mapping[str, FailureReason]] = {
    "INS-5": FailureReason.CANCELLED,  # "Transaction cancelled by customer"
    "INS-2006": FailureReason.INSUFFICIENT_FUNDS,  # "Insufficient balance"
    "INS-2051": FailureReason.INVALID_NUMBER,  # "MSISDN invalid"
}
# Statuses of queryTransactionStatus (values seen in SDKs; anything else stays pending).
SUCCEEDED_STATUSES: Final = frozenset({"completed", "success", "successful"})
FAILED_STATUSES: Final = frozenset({"failed", "cancelled", "canceled", "declined", "expired"})
_PENDING_STATUSES: Final = frozenset({"pending", "processing", "in progress", "initiated"})
_REFUSED_HTTP: Final = 401  # the session (or API key) was refused: nothing was processed


def reason_for(code: str) -> FailureReason:
    """Map a failing INS code to our failure reason."""
    return REASONS.get(code, FailureReason.OTHER)


def load_public_key(text: str) -> RSAPublicKey:
    """Load the portal's base64 public key (DER SubjectPublicKeyInfo, PEM armour tolerated)."""
    body = "".join(line for line in text.strip().splitlines() if not line.startswith("-----"))
    try:
        key = load_der_public_key(base64.b64decode(body, validate=True))
    except (ValueError, binascii.Error) as error:
        raise ValueError(f"not a base64 RSA public key: {error}") from None
    if not isinstance(key, RSAPublicKey):
        raise ValueError("the public key is not an RSA key")
    return key


def bearer_value(public_key: RSAPublicKey, value: str) -> str:
    """Encrypt an API key or session id as M-Pesa OpenAPI's bearer value."""
    return base64.b64encode(public_key.encrypt(value.encode(), padding.PKCS1v15())).decode()


def msisdn_digits(phone: str) -> str:
    """Return an E.164 phone as M-Pesa's MSISDN (country code, no +)."""
    return phone.lstrip("+")


def conversation_id(intent_id: str) -> str:
    """Return our ThirdPartyConversationID for an intent (alphanumeric, at most 40)."""
    return intent_id.replace("-", "")[:40]


@dataclass(frozen=True, slots=True)
class VodacomConfig:
    """One M-Pesa OpenAPI application (portal API key and public key) and its shortcode."""

    base_url: str  # https://openapi.m-pesa.com/{sandbox|openapi}
    market: str
    country: str
    currency: str
    api_key: str
    public_key: str
    service_provider_code: str
    origin: str = "*"
    connect_timeout_seconds: float = 5.0
    timeout_seconds: float = 15.0  # session and status calls
    push_timeout_seconds: float = 120.0  # c2b: waits for the customer's PIN
    session_activation_seconds: float = 30.0
    session_lifetime_seconds: float = 3600.0
    session_poll_seconds: float = 3.0

    def url(self, api: str) -> str:
        """Return the URL of one API of this market."""
        return f"{self.base_url.rstrip('/')}/ipg/v2/{self.market}/{api}/"


class VodacomError(RuntimeError):
    """M-Pesa refused our API key or session, or answered something we cannot read."""


class SessionNotReadyError(VodacomError):
    """The session is younger than its activation delay and was refused."""


@dataclass(frozen=True, slots=True)
class _Session:
    id: str
    created: float


class VodacomProvider:
    """C2B single stage through Vodacom's M-Pesa OpenAPI."""

    name = NAME

    def __init__(
        self,
        config: VodacomConfig,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = config
        # The amounts' currency: one per shortcode (a city billing in another is refused at start).
        self.currencies = frozenset({config.currency})
        self._key = load_public_key(config.public_key)
        self._http = session or requests.Session()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._session: _Session | None = None

    @property
    def config(self) -> VodacomConfig:
        """Return the configuration this adapter runs with."""
        return self._config

    def job_timeout_seconds(self) -> float:
        """Return how long one push job may take (session, activation wait, PIN prompt)."""
        c = self._config
        return (
            2 * (c.connect_timeout_seconds + c.timeout_seconds)
            + c.session_activation_seconds
            + c.session_poll_seconds
            + c.connect_timeout_seconds
            + c.push_timeout_seconds
            + 30.0  # our own database work around the call
        )

    # --- session -------------------------------------------------------------------------

    def _current_session(self) -> _Session:
        with self._lock:
            now = self._clock()
            if (
                self._session is not None
                and now - self._session.created < self._config.session_lifetime_seconds
            ):
                return self._session
            response = self._http.get(
                self._config.url("getSession"),
                headers=self._headers(self._config.api_key),
                timeout=(self._config.connect_timeout_seconds, self._config.timeout_seconds),
            )
            data = json_object(response)
            session_id = data.get("output_SessionID")
            if response.status_code not in (200, 201) or data.get("output_ResponseCode") != OK:
                raise VodacomError(
                    f"getSession answered HTTP {response.status_code} "
                    f"{data.get('output_ResponseCode', '')}".rstrip()
                )
            if not isinstance(session_id, str) or not session_id:
                raise VodacomError("getSession answer has no output_SessionID")
            self._session = _Session(session_id, self._clock())
            return self._session

    def _forget(self, session: _Session) -> None:
        with self._lock:
            if self._session == session:
                self._session = None

    def _headers(self, value: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {bearer_value(self._key, value)}",
            "Origin": self._config.origin,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def _call(
        self,
        method: str,
        api: str,
        *,
        read_timeout: float,
        wait_for_activation: bool,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send one call with the session; a refusal (401) is never a processed request."""
        renewed = False
        while True:
            try:
                session = self._current_session()
            except requests.RequestException as exc:  # the call itself was never sent
                raise VodacomError(f"getSession failed: {type(exc).__name__}") from exc
            response = self._http.request(
                method,
                self._config.url(api),
                headers=self._headers(session.id),
                json=body,
                params=params,
                timeout=(self._config.connect_timeout_seconds, read_timeout),
            )
            if response.status_code != _REFUSED_HTTP:
                return response
            age = self._clock() - session.created
            remaining = self._config.session_activation_seconds - age
            if remaining > 0:
                # A young session: wait for it (the push job has the time), never re-create it,
                # which would only restart the delay.
                if not wait_for_activation:
                    raise SessionNotReadyError(f"session {age:.0f}s old is not active yet")
                self._sleep(min(self._config.session_poll_seconds, remaining))
                continue
            self._forget(session)
            if renewed:
                raise VodacomError(f"{api} refused a fresh session (HTTP 401)")
            renewed = True

    # --- port ----------------------------------------------------------------------------

    def push(self, intent: Intent) -> PushResult:
        """Run the C2B payment; blocks until the customer answers the PIN prompt."""
        if intent.currency != self._config.currency:
            return PushResult(
                PushOutcome.REJECTED,
                reason=FailureReason.OTHER,
                detail=f"{intent.currency} is not VODACOM_CURRENCY {self._config.currency}",
            )
        third_party = conversation_id(intent.id)
        body = {
            "input_Amount": str(intent.amount),
            "input_Country": self._config.country,
            "input_Currency": self._config.currency,
            "input_CustomerMSISDN": msisdn_digits(intent.phone),
            "input_ServiceProviderCode": self._config.service_provider_code,
            "input_ThirdPartyConversationID": third_party,
            "input_TransactionReference": _reference(intent.assessment_reference),
            "input_PurchasedItemsDesc": f"Tax {intent.tax_code}"[:64],
        }
        try:
            response = self._call(
                "POST",
                "c2bPayment/singleStage",
                body=body,
                read_timeout=self._config.push_timeout_seconds,
                wait_for_activation=True,
            )
        except VodacomError as exc:  # the payment itself was not sent (or was refused unread)
            return PushResult(PushOutcome.NOT_SENT, detail=str(exc))
        except requests.RequestException as exc:
            if never_connected(exc):
                return PushResult(PushOutcome.NOT_SENT, detail=type(exc).__name__)
            # A read timeout: the customer may be typing the PIN right now. Never push again;
            # the status query (reconciliation) finds out.
            return PushResult(PushOutcome.UNKNOWN, detail=type(exc).__name__)
        data = json_object(response)
        code = str(data.get("output_ResponseCode") or "")
        transaction = _text(data.get("output_TransactionID"))
        if code == OK and response.status_code in (200, 201):
            return PushResult(
                PushOutcome.ACCEPTED,
                provider_reference=third_party,
                status=StatusResult(PaymentState.SUCCEEDED, provider_receipt=transaction),
            )
        if code == DUPLICATE:
            # Vodacom already has this ThirdPartyConversationID: the first request is the
            # payment. Never charge again; the status query tells how it ended.
            return PushResult(PushOutcome.ACCEPTED, provider_reference=third_party, detail=code)
        if code == TIMED_OUT:
            # The prompt timed out on Vodacom's side: ambiguous, settled by the status query.
            return PushResult(PushOutcome.ACCEPTED, provider_reference=third_party, detail=code)
        if not code:
            if response.status_code >= 500:
                return PushResult(PushOutcome.UNKNOWN, detail=f"HTTP {response.status_code}")
            return PushResult(
                PushOutcome.REJECTED,
                reason=FailureReason.OTHER,
                detail=f"HTTP {response.status_code}",
            )
        return PushResult(PushOutcome.REJECTED, reason=reason_for(code), detail=code)

    def query(self, intent: Intent) -> StatusResult:
        """Ask queryTransactionStatus about the intent's ThirdPartyConversationID."""
        third_party = conversation_id(intent.id)
        params = {
            "input_QueryReference": intent.provider_receipt or third_party,
            "input_ServiceProviderCode": self._config.service_provider_code,
            # Each request carries its own conversation id; the query's is fresh.
            "input_ThirdPartyConversationID": uuid.uuid4().hex,
            "input_Country": self._config.country,
        }
        try:
            response = self._call(
                "GET",
                "queryTransactionStatus",
                params=params,
                read_timeout=self._config.timeout_seconds,
                wait_for_activation=False,
            )
        except (VodacomError, requests.RequestException) as exc:
            return StatusResult(PaymentState.UNKNOWN, detail=type(exc).__name__)
        data = json_object(response)
        code = str(data.get("output_ResponseCode") or "")
        status = _text(data.get("output_ResponseTransactionStatus")) or _text(
            data.get("output_TransactionStatus")
        )
        receipt = _text(data.get("output_TransactionID"))
        if code != OK or status is None:
            # An unknown reference means Vodacom never processed this conversation id.
            if code in {"INS-14", "INS-17", "INS-18", "INS-19"}:
                return StatusResult(PaymentState.NOT_FOUND, detail=code)
            return StatusResult(PaymentState.UNKNOWN, detail=code or f"HTTP {response.status_code}")
        normalized = status.strip().lower()
        if normalized in SUCCEEDED_STATUSES:
            return StatusResult(PaymentState.SUCCEEDED, provider_receipt=receipt)
        if normalized in FAILED_STATUSES:
            reason = FailureReason.CANCELLED if normalized.startswith("cancel") else None
            if normalized == "expired":
                reason = FailureReason.TIMEOUT
            return StatusResult(
                PaymentState.FAILED, reason=reason or FailureReason.OTHER, detail=status
            )
        return StatusResult(PaymentState.PENDING, detail=status)

    def parse_callback(self, body: str, params: Mapping[str, str]) -> CallbackEvent:
        """Parse an async result; our URL's `intent` parameter names the intent."""
        data = _callback_fields(body)
        code = data["input_ResultCode"]
        third_party = data.get("input_ThirdPartyConversationID") or None
        intent_id = params.get("intent") or None
        if code in {OK, "0"}:
            return CallbackEvent(
                succeeded=True,
                intent_id=intent_id,
                provider_reference=third_party,
                provider_receipt=data.get("input_TransactionID") or None,
            )
        normalized = code if code.startswith("INS-") else f"INS-{code}"
        return CallbackEvent(False, intent_id, third_party, reason=reason_for(normalized))


def acknowledgement(body: str) -> dict[str, str]:
    """Return the documented answer to an async result (echoing its conversation ids)."""
    try:
        data = _callback_fields(body)
    except CallbackParseError:
        data = {}
    return {
        "output_OriginalConversationID": data.get("input_OriginalConversationID", ""),
        "output_ResponseCode": "0",
        "output_ResponseDesc": "Successfully Accepted Result",
        "output_ThirdPartyConversationID": data.get("input_ThirdPartyConversationID", ""),
    }


def _callback_fields(body: str) -> dict[str, str]:
    try:
        data = json.loads(body)
    except ValueError:
        raise CallbackParseError("not JSON") from None
    if not isinstance(data, dict):
        raise CallbackParseError("not a JSON object")
    fields = {
        k: str(v) for k, v in data.items() if isinstance(v, str | int) and k.startswith("input_")
    }
    if not fields.get("input_ResultCode") or not fields.get("input_OriginalConversationID"):
        raise CallbackParseError("not an M-Pesa OpenAPI result (input_ResultCode)")
    return fields


def _reference(assessment_reference: str) -> str:
    cleaned = "".join(ch for ch in assessment_reference if ch.isalnum())
    return (cleaned or "Guichet")[:20]


def _text(value: object) -> str | None:
    return (
        str(value)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value)
        else None
    )
