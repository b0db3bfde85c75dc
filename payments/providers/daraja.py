"""M-Pesa Daraja "Lipa na M-Pesa Online" (STK push) adapter.

- OAuth: GET /oauth/v1/generate?grant_type=client_credentials with HTTP Basic
  (consumer key:secret) -> {"access_token", "expires_in"}; cached until shortly before expiry.
- Push: POST /mpesa/stkpush/v1/processrequest with BusinessShortCode, Password =
  base64(shortcode + passkey + timestamp), Timestamp (YYYYMMDDHHMMSS, Nairobi time),
  TransactionType, Amount, PartyA, PartyB, PhoneNumber, CallBackURL, AccountReference,
  TransactionDesc -> {"MerchantRequestID", "CheckoutRequestID", "ResponseCode": "0", ...}.
- Callback: {"Body": {"stkCallback": {MerchantRequestID, CheckoutRequestID, ResultCode,
  ResultDesc, CallbackMetadata: {Item: [{Name: Amount|MpesaReceiptNumber|TransactionDate|
  PhoneNumber, Value}]}}}}; the metadata only comes with ResultCode 0.
- Query: POST /mpesa/stkpushquery/v1/query {BusinessShortCode, Password, Timestamp,
  CheckoutRequestID} -> {"ResultCode", "ResultDesc", ...}; while the customer has not answered,
  Daraja replies HTTP 500 with errorCode 500.001.1001 ("The transaction is being processed").
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import requests

from payments.model import FailureReason, Intent
from payments.providers.base import (
    CallbackEvent,
    CallbackParseError,
    PaymentState,
    PushOutcome,
    PushResult,
    StatusResult,
    integral_amount,
)
from payments.providers.http import json_object, never_connected
from payments.providers.oauth import TokenCache

NAME: Final = "daraja"
PROCESSING_ERROR: Final = "500.001.1001"
RESULT_REASONS: Final[Mapping[int, FailureReason]] = {
    1: FailureReason.INSUFFICIENT_FUNDS,  # "The balance is insufficient for the transaction"
    1032: FailureReason.CANCELLED,  # "Request cancelled by user"
    1037: FailureReason.TIMEOUT,  # "DS timeout user cannot be reached"
    1019: FailureReason.TIMEOUT,  # "Transaction has expired"
    2001: FailureReason.WRONG_PIN,  # "The initiator information is invalid"
}
_NAIROBI: Final = ZoneInfo("Africa/Nairobi")
_TOKEN_MARGIN_SECONDS: Final = 60


def reason_for(result_code: int) -> FailureReason:
    """Map a non-zero Daraja ResultCode to our failure reason."""
    return RESULT_REASONS.get(result_code, FailureReason.OTHER)


@dataclass(frozen=True, slots=True)
class DarajaConfig:
    """Credentials and endpoints of one Daraja app (sandbox or production)."""

    base_url: str
    consumer_key: str
    consumer_secret: str
    shortcode: str
    passkey: str
    timeout_seconds: float = 10.0
    transaction_type: str = "CustomerPayBillOnline"


class DarajaError(RuntimeError):
    """Daraja refused our credentials or answered something we cannot read."""


class DarajaProvider:
    """STK push through Safaricom's Daraja API."""

    name = NAME
    # Safaricom's Lipa na M-Pesa takes whole Kenyan shillings only (Amount has no currency).
    currencies = frozenset({"KES"})

    def __init__(
        self,
        config: DarajaConfig,
        callback_url: Callable[[str, str], str],
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._callback_url = callback_url
        self._http = session or requests.Session()
        self._tokens = TokenCache(
            self._fetch_token,
            DarajaError,
            clock=clock,
            margin_seconds=_TOKEN_MARGIN_SECONDS,
            default_expires_in=3599.0,
        )

    # --- auth ----------------------------------------------------------------------------

    def _fetch_token(self) -> requests.Response:
        return self._http.get(
            f"{self._config.base_url}/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            auth=(self._config.consumer_key, self._config.consumer_secret),
            timeout=self._config.timeout_seconds,
        )

    def _access_token(self) -> str:
        return self._tokens.get()

    def _forget_token(self) -> None:
        self._tokens.forget()

    def _password(self, timestamp: str) -> str:
        raw = f"{self._config.shortcode}{self._config.passkey}{timestamp}"
        return base64.b64encode(raw.encode()).decode()

    @staticmethod
    def timestamp() -> str:
        """Return Daraja's YYYYMMDDHHMMSS timestamp (East Africa Time)."""
        return datetime.now(_NAIROBI).strftime("%Y%m%d%H%M%S")

    def _post(self, path: str, body: Mapping[str, Any]) -> requests.Response:
        token = self._access_token()
        return self._http.post(
            f"{self._config.base_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=self._config.timeout_seconds,
        )

    # --- port ----------------------------------------------------------------------------

    def push(self, intent: Intent) -> PushResult:
        """Send the STK push; never report NOT_SENT unless Daraja certainly did not get it."""
        stamp = self.timestamp()
        msisdn = intent.phone.lstrip("+")
        body = {
            "BusinessShortCode": self._config.shortcode,
            "Password": self._password(stamp),
            "Timestamp": stamp,
            "TransactionType": self._config.transaction_type,
            "Amount": intent.amount,
            "PartyA": msisdn,
            "PartyB": self._config.shortcode,
            "PhoneNumber": msisdn,
            "CallBackURL": self._callback_url(self.name, intent.id),
            "AccountReference": intent.assessment_reference[:12],
            "TransactionDesc": f"Tax {intent.tax_code}"[:13],
        }
        try:
            response = self._post("/mpesa/stkpush/v1/processrequest", body)
        except DarajaError as exc:  # the push itself was not sent
            return PushResult(PushOutcome.NOT_SENT, detail=str(exc))
        except requests.RequestException as exc:
            if never_connected(exc):
                return PushResult(PushOutcome.NOT_SENT, detail=type(exc).__name__)
            return PushResult(PushOutcome.UNKNOWN, detail=type(exc).__name__)
        if response.status_code == 401:  # token revoked early: Daraja did not process it
            self._forget_token()
            return PushResult(PushOutcome.NOT_SENT, detail="HTTP 401")
        data = json_object(response)
        reference = data.get("CheckoutRequestID")
        if response.status_code == 200 and str(data.get("ResponseCode")) == "0" and reference:
            return PushResult(PushOutcome.ACCEPTED, provider_reference=str(reference))
        # Any other answer is a refusal: nothing will be charged (a late success callback
        # would still be credited, see PaymentService.process_callback).
        detail = str(data.get("errorCode") or data.get("ResponseCode") or response.status_code)
        return PushResult(PushOutcome.REJECTED, reason=FailureReason.OTHER, detail=detail)

    def query(self, intent: Intent) -> StatusResult:
        """Ask stkpushquery where the checkout request stands."""
        if not intent.provider_reference:
            return StatusResult(PaymentState.UNKNOWN, detail="no CheckoutRequestID")
        stamp = self.timestamp()
        body = {
            "BusinessShortCode": self._config.shortcode,
            "Password": self._password(stamp),
            "Timestamp": stamp,
            "CheckoutRequestID": intent.provider_reference,
        }
        try:
            response = self._post("/mpesa/stkpushquery/v1/query", body)
        except (DarajaError, requests.RequestException) as exc:
            return StatusResult(PaymentState.UNKNOWN, detail=type(exc).__name__)
        if response.status_code == 401:
            self._forget_token()
        data = json_object(response)
        if str(data.get("errorCode")) == PROCESSING_ERROR:
            return StatusResult(PaymentState.PENDING)
        if response.status_code != 200 or "ResultCode" not in data:
            return StatusResult(PaymentState.UNKNOWN, detail=f"HTTP {response.status_code}")
        try:
            code = int(str(data["ResultCode"]))
        except ValueError:
            return StatusResult(PaymentState.UNKNOWN, detail="unreadable ResultCode")
        if code == 0:
            return StatusResult(PaymentState.SUCCEEDED, provider_receipt=intent.provider_reference)
        return StatusResult(PaymentState.FAILED, reason=reason_for(code))

    def parse_callback(self, body: str, params: Mapping[str, str]) -> CallbackEvent:
        """Parse Body.stkCallback; our URL's `intent` parameter names the intent."""
        try:
            data = json.loads(body)
            callback = data["Body"]["stkCallback"]
            checkout = callback["CheckoutRequestID"]
            code = int(callback["ResultCode"])
        except (ValueError, KeyError, TypeError):
            raise CallbackParseError("not a Daraja stkCallback") from None
        if not isinstance(checkout, str) or not checkout:
            raise CallbackParseError("CheckoutRequestID must be a string")
        intent_id = params.get("intent") or None
        if code != 0:
            return CallbackEvent(False, intent_id, checkout, reason=reason_for(code))
        items: dict[str, Any] = {}
        metadata = callback.get("CallbackMetadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("Item"), list):
            for item in metadata["Item"]:
                if isinstance(item, dict) and isinstance(item.get("Name"), str):
                    items[item["Name"]] = item.get("Value")
        phone = items.get("PhoneNumber")
        phone_text = (
            str(phone) if isinstance(phone, int | str) and not isinstance(phone, bool) else ""
        )
        receipt = items.get("MpesaReceiptNumber")
        return CallbackEvent(
            succeeded=True,
            intent_id=intent_id,
            provider_reference=checkout,
            amount=integral_amount(items.get("Amount")),
            phone=f"+{phone_text.lstrip('+')}" if phone_text.lstrip("+").isdigit() else None,
            provider_receipt=str(receipt) if isinstance(receipt, str | int) else None,
        )
