"""PayGateGlobal adapter: Togo's Flooz (Moov) and T-Money (Yas) behind one API.

Facts (../shared/PROVIDERS.md §4b; no sandbox exists, every call is a JSON POST carrying
`auth_token` in the body):

- Pay: POST /api/v1/pay {auth_token, phone_number (8 digits, no 228), amount (integer XOF),
  description, identifier, network: FLOOZ|TMONEY} -> {tx_reference, status}: 0 recorded,
  2 bad token, 4 bad parameters, 6 duplicate identifier.
- Status: POST /api/v2/status {auth_token, identifier} -> {tx_reference, identifier,
  payment_reference, status, datetime, payment_method}: 0 paid, 2 pending, 4 expired,
  6 cancelled.
- Callback: the PaymentStatus fields, POSTed to the URL set once in the PayGate dashboard,
  unsigned (JSON or form: the shape is unverified). It is never trusted alone: the service
  confirms it through v2/status.

`identifier` is our intent id, so PayGate itself refuses a second charge for the same intent
(status 6): a push retried after a timeout is answered "duplicate", which means "already
accepted", never a second prompt.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

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

log = logging.getLogger(__name__)

NAME: Final = "paygate"
CURRENCY: Final = "XOF"
COUNTRY_CODE: Final = "228"
# Our operator keys (PAYMENT_OPERATORS) -> PayGate's `network`.
NETWORKS: Final[Mapping[str, str]] = {"flooz": "FLOOZ", "tmoney": "TMONEY"}

PAY_RECORDED: Final = 0
PAY_BAD_TOKEN: Final = 2
PAY_BAD_PARAMS: Final = 4
PAY_DUPLICATE: Final = 6

PAID: Final = 0
PENDING: Final = 2
EXPIRED: Final = 4
CANCELLED: Final = 6
FAILURES: Final[Mapping[int, FailureReason]] = {
    EXPIRED: FailureReason.TIMEOUT,  # the customer never answered the prompt
    CANCELLED: FailureReason.CANCELLED,
}


@dataclass(frozen=True, slots=True)
class PayGateConfig:
    """The merchant's PayGateGlobal account."""

    base_url: str
    auth_token: str
    timeout_seconds: float = 10.0


def local_number(phone: str) -> str | None:
    """Return a Togolese E.164 number as PayGate's 8 digits, None for any other number."""
    digits = phone.lstrip("+")
    if digits.startswith(COUNTRY_CODE) and len(digits) == 11 and digits.isdigit():
        return digits[3:]
    return None


def e164(value: object) -> str | None:
    """Return a phone number PayGate sent (8 digits, 228…, +228…) in E.164, else None."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    digits = str(value).strip().lstrip("+").replace(" ", "")
    if len(digits) == 8 and digits.isdigit():
        return f"+{COUNTRY_CODE}{digits}"
    if local_number(f"+{digits}"):
        return f"+{digits}"
    return None


def _status(data: Mapping[str, Any]) -> int | None:
    value = data.get("status")
    if isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


class PayGateProvider:
    """Flooz and T-Money collections through PayGateGlobal's v1/pay and v2/status."""

    name = NAME
    currencies = frozenset({CURRENCY})  # Flooz and T-Money collect francs CFA only

    def __init__(self, config: PayGateConfig, session: requests.Session | None = None) -> None:
        self._config = config
        self._http = session or requests.Session()

    def _post(self, path: str, body: Mapping[str, Any]) -> requests.Response:
        return self._http.post(
            f"{self._config.base_url}{path}",
            json={"auth_token": self._config.auth_token, **body},
            timeout=self._config.timeout_seconds,
        )

    def push(self, intent: Intent) -> PushResult:
        """Ask PayGate to prompt the phone on the operator's network (identifier = intent id)."""
        network = NETWORKS.get(intent.operator)
        phone = local_number(intent.phone)
        if network is None or phone is None or intent.currency != CURRENCY:
            # Refused before any call: nothing can be charged.
            detail = f"operator {intent.operator}, currency {intent.currency}, phone not +228"
            return PushResult(PushOutcome.REJECTED, reason=FailureReason.OTHER, detail=detail)
        body = {
            "phone_number": phone,
            "amount": intent.amount,
            "description": f"{intent.tax_code} {intent.assessment_reference}"[:100],
            "identifier": intent.id,
            "network": network,
        }
        try:
            response = self._post("/api/v1/pay", body)
        except requests.RequestException as exc:
            if never_connected(exc):
                return PushResult(PushOutcome.NOT_SENT, detail=type(exc).__name__)
            # It may have been recorded: a re-push would only get "duplicate", but the
            # service never re-pushes an unknown outcome; v2/status settles it.
            return PushResult(PushOutcome.UNKNOWN, detail=type(exc).__name__)
        data = json_object(response)
        status = _status(data)
        reference = data.get("tx_reference")
        if response.status_code == 200 and status == PAY_RECORDED:
            if reference:
                return PushResult(PushOutcome.ACCEPTED, provider_reference=str(reference))
            return self._already_recorded(intent)
        if response.status_code == 200 and status == PAY_DUPLICATE:
            return self._already_recorded(intent)
        if response.status_code == 200 and status in {PAY_BAD_TOKEN, PAY_BAD_PARAMS}:
            if status == PAY_BAD_TOKEN:
                log.error("PayGate refused PAYGATE_AUTH_TOKEN (status 2)")
            return PushResult(
                PushOutcome.REJECTED, reason=FailureReason.OTHER, detail=f"status {status}"
            )
        if 400 <= response.status_code < 500:  # the request itself was refused
            return PushResult(
                PushOutcome.REJECTED,
                reason=FailureReason.OTHER,
                detail=f"HTTP {response.status_code}",
            )
        # An answer we cannot read may hide a recorded payment: never "nothing was charged".
        return PushResult(
            PushOutcome.UNKNOWN, detail=f"HTTP {response.status_code} status {status}"
        )

    def _already_recorded(self, intent: Intent) -> PushResult:
        # A duplicate identifier: an earlier push of this intent reached PayGate. Never a
        # second charge; learn its tx_reference so the callback can be matched.
        status = self._status_of(intent)
        reference = status.get("tx_reference") if status else None
        if reference:
            return PushResult(PushOutcome.ACCEPTED, provider_reference=str(reference))
        return PushResult(PushOutcome.UNKNOWN, detail="duplicate identifier, status unknown")

    def _status_of(self, intent: Intent) -> dict[str, Any] | None:
        try:
            response = self._post("/api/v2/status", {"identifier": intent.id})
        except requests.RequestException:
            return None
        if response.status_code != 200:
            return None
        return json_object(response)

    def query(self, intent: Intent) -> StatusResult:
        """Ask v2/status where the payment of our identifier stands."""
        try:
            response = self._post("/api/v2/status", {"identifier": intent.id})
        except requests.RequestException as exc:
            return StatusResult(PaymentState.UNKNOWN, detail=type(exc).__name__)
        if response.status_code == 404:
            # Never recorded: pushing (again) is safe, and PayGate's duplicate check on
            # the identifier would refuse a second charge anyway.
            return StatusResult(PaymentState.NOT_FOUND)
        data = json_object(response)
        status = _status(data)
        if response.status_code != 200 or status is None:
            return StatusResult(PaymentState.UNKNOWN, detail=f"HTTP {response.status_code}")
        if str(data.get("identifier", intent.id)) != intent.id:
            return StatusResult(PaymentState.UNKNOWN, detail="answer for another identifier")
        if status == PAID:
            receipt = data.get("payment_reference") or data.get("tx_reference")
            return StatusResult(
                PaymentState.SUCCEEDED, provider_receipt=str(receipt) if receipt else None
            )
        if status == PENDING:
            return StatusResult(PaymentState.PENDING)
        if status in FAILURES:
            return StatusResult(PaymentState.FAILED, reason=FAILURES[status])
        return StatusResult(PaymentState.UNKNOWN, detail=f"status {status}")

    def parse_callback(self, body: str, params: Mapping[str, str]) -> CallbackEvent:
        """Parse PayGate's PaymentStatus fields (JSON or form); `identifier` is our intent."""
        data = _fields(body)
        identifier = data.get("identifier")
        reference = data.get("tx_reference")
        if not isinstance(identifier, str) or not identifier:
            raise CallbackParseError("identifier must be a non-empty string")
        if reference is not None and not isinstance(reference, str | int):
            raise CallbackParseError("tx_reference must be a string")
        # Without a status field the callback is PayGate's payment confirmation (the only
        # kind the public sources show); the status query decides anyway.
        status = PAID if data.get("status") in (None, "") else _status(data)
        if status != PAID and status not in FAILURES:
            raise CallbackParseError(f"status {data.get('status')!r} is not a final outcome")
        receipt = data.get("payment_reference")
        return CallbackEvent(
            succeeded=status == PAID,
            intent_id=identifier,
            provider_reference=str(reference) if reference else None,
            reason=FAILURES.get(status) if status is not None else None,
            amount=integral_amount(data["amount"]) if "amount" in data else None,
            phone=e164(data["phone_number"]) if "phone_number" in data else None,
            provider_receipt=str(receipt) if isinstance(receipt, str | int) and receipt else None,
        )


def _fields(body: str) -> dict[str, Any]:
    text = body.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise CallbackParseError("not JSON") from None
        if not isinstance(data, dict):
            raise CallbackParseError("not a JSON object")
        return data
    pairs = parse_qsl(text, keep_blank_values=True)
    if not pairs:
        raise CallbackParseError("neither JSON nor a form")
    return dict(pairs)
