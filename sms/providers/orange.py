"""Orange SMS API (developer.orange.com, "SMS Africa and Middle East"): OneAPI over OAuth.

Token: `POST /oauth/v3/token` (Basic client_id:client_secret, `grant_type=client_credentials`),
valid `expires_in` seconds (a string); kept until a minute before it ends, fetched again once
on a 401. Send: `POST /smsmessaging/v1/outbound/tel%3A%2B{sender}/requests` with an
`outboundSMSMessageRequest`, one recipient per request; success is **201** and echoes the
request with a `resourceURL`. Errors: `requestError.serviceException|policyException`.

Delivery receipts: Orange posts OneAPI `deliveryInfoNotification`s ({callbackData,
deliveryInfo{address, deliveryStatus}}) to a subscribed `notifyURL` (`subscribe_receipts`,
`python -m gateway sms orange-subscribe`). A notification names no message, so each request
carries a OneAPI `receiptRequest` whose `callbackData` is the id we file the message under.
The notification's shape is OneAPI's; Orange's own copy is unverified
(../shared/PROVIDERS.md §6).

Inbound sample: {"inboundSMSMessageNotification": {"inboundSMSMessage": {"messageId": "…",
  "senderAddress": "tel:+243…", "destinationAddress": "tel:+243…", "message": "AIDE",
  "dateTime": "2026-11-30T10:00:00Z"}}}
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

from sms.providers.base import (
    Outcome,
    ProviderError,
    ProviderResult,
    RecipientResult,
    ReportState,
)
from sms.providers.http import JsonApi, body_of, http_outcome

NAME: Final = "orange"
DEFAULT_BASE_URL: Final = "https://api.orange.com"
TOKEN_PATH: Final = "/oauth/v3/token"  # noqa: S105 - a path, not a secret
_EARLY: Final = 60.0  # fetch a new token this long before the old one ends
REPORT_STATES: Final[Mapping[str, ReportState]] = {
    "DeliveredToTerminal": ReportState.DELIVERED,
    "DeliveryImpossible": ReportState.UNDELIVERED,
    "DeliveredToNetwork": ReportState.INTERMEDIATE,
    "MessageWaiting": ReportState.INTERMEDIATE,
    "DeliveryUncertain": ReportState.INTERMEDIATE,
    "DeliveryNotificationNotSupported": ReportState.INTERMEDIATE,
}


def tel(number: str) -> str:
    """Return `+243…` (or `243…`) as the OneAPI address `tel:+243…`."""
    return "tel:+" + number.strip().removeprefix("tel:").lstrip("+")


def outbound_path(sender: str) -> str:
    """Return the requests path of the sender's outbound resource."""
    return f"/smsmessaging/v1/outbound/{quote(tel(sender), safe='')}"


class OrangeSmsProvider:
    """Send through the Orange SMS API, one OneAPI request per recipient."""

    name = NAME

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        sender: str,
        sender_name: str = "",
        base_url: str = DEFAULT_BASE_URL,
        notify_url: str = "",
        timeout_seconds: float = 10.0,
    ) -> None:
        self._api = JsonApi("Orange", base_url, timeout_seconds)
        self._credentials = (client_id, client_secret)
        self._sender = sender
        self._sender_name = sender_name
        self._notify_url = notify_url
        self._lock = threading.Lock()  # deliveries run on several threads (sms.delivery)
        self._token = ""
        self._token_ends = 0.0

    def send(self, to: Sequence[str], text: str, sender_id: str | None) -> ProviderResult:
        """POST one outboundSMSMessageRequest per number."""
        return ProviderResult(tuple(self._send_one(number, text) for number in to))

    def subscribe_receipts(self, notify_url: str) -> str:
        """Subscribe `notify_url` to the sender's delivery receipts; return the resourceURL."""
        body = {"deliveryReceiptSubscription": {"callbackReference": {"notifyURL": notify_url}}}
        response = self._post(outbound_path(self._sender) + "/subscriptions", body)
        if response.status_code != 201:
            raise ProviderError(http_outcome(response.status_code), _refusal(response))
        found = body_of(response) or {}
        reference = found.get("deliveryReceiptSubscription", {}).get("resourceURL", "")
        return str(reference)

    def _send_one(self, number: str, text: str) -> RecipientResult:
        callback_data = f"og-{uuid.uuid4().hex}"  # the id this message is filed under
        request: dict[str, Any] = {
            "address": tel(number),
            "senderAddress": tel(self._sender),
            "outboundSMSTextMessage": {"message": text},
        }
        if self._sender_name:
            request["senderName"] = self._sender_name
        if self._notify_url:
            request["receiptRequest"] = {
                "notifyURL": self._notify_url,
                "callbackData": callback_data,
            }
        response = self._post(
            outbound_path(self._sender) + "/requests", {"outboundSMSMessageRequest": request}
        )
        if response.status_code == 201:
            return RecipientResult(number, 201, "Created", callback_data, verdict=Outcome.ACCEPTED)
        outcome = http_outcome(response.status_code)
        if outcome == Outcome.HOLD:
            raise ProviderError(outcome, f"Orange refused the account: {_refusal(response)}")
        return RecipientResult(number, response.status_code, _refusal(response), verdict=outcome)

    def _post(self, path: str, body: Any) -> Any:
        response = self._api.post(path, json=body, headers=self._headers())
        if response.status_code == 401:  # the token ended early: one more try with a new one
            with self._lock:
                self._token = ""
            response = self._api.post(path, json=body, headers=self._headers())
        return response

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._bearer()}", "Accept": "application/json"}

    def _bearer(self) -> str:
        with self._lock:
            if self._token and time.monotonic() < self._token_ends:
                return self._token
            response = self._api.post(
                TOKEN_PATH,
                data={"grant_type": "client_credentials"},
                auth=self._credentials,
                headers={"Accept": "application/json"},
            )
            found = body_of(response)
            if response.status_code != 200 or not isinstance(found, dict):
                outcome = http_outcome(response.status_code)
                raise ProviderError(outcome, f"Orange token refused (HTTP {response.status_code})")
            try:
                lifetime = float(found.get("expires_in") or 3600)
                self._token = str(found["access_token"])
            except (KeyError, ValueError):
                raise ProviderError(Outcome.TRANSIENT, "Orange token answer unreadable") from None
            self._token_ends = time.monotonic() + max(lifetime - _EARLY, 1.0)
            return self._token


def _refusal(response: Any) -> str:
    # `requestError.serviceException.messageId` (SVC…/POL…): the text may quote the number.
    found = body_of(response)
    error = found.get("requestError", {}) if isinstance(found, dict) else {}
    for kind in ("serviceException", "policyException"):
        if isinstance(error.get(kind), dict):
            return f"{error[kind].get('messageId', '?')} (HTTP {response.status_code})"
    return f"HTTP {response.status_code}"


def _address(value: Any) -> str:
    return str(value or "").strip().removeprefix("tel:")


def inbound_payload(body: Any) -> dict[str, str]:
    """Return an inboundSMSMessageNotification's fields under sms.callbacks' names."""
    note = body.get("inboundSMSMessageNotification") if isinstance(body, dict) else None
    message = note.get("inboundSMSMessage") if isinstance(note, dict) else None
    if not isinstance(message, dict):
        return {}
    return {
        "id": str(message.get("messageId") or ""),
        "from": _address(message.get("senderAddress")),
        "to": _address(message.get("destinationAddress")),
        "text": str(message.get("message") or ""),
        "date": str(message.get("dateTime") or ""),
    }


def delivery_payload(body: Any) -> dict[str, str]:
    """Return a deliveryInfoNotification's fields under sms.callbacks' names."""
    note = body.get("deliveryInfoNotification") if isinstance(body, dict) else None
    info = note.get("deliveryInfo") if isinstance(note, dict) else None
    if not isinstance(note, dict) or not isinstance(info, dict):
        return {}
    return {
        "id": str(note.get("callbackData") or ""),
        "status": str(info.get("deliveryStatus") or ""),
        "phoneNumber": _address(info.get("address")),
    }
