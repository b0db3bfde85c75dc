"""Infobip SMS: `POST /sms/2/text/advanced`, `Authorization: App <key>`, JSON reports.

Numbers travel in international form without `+` (`243810000001`). The send answer gives a
status per destination (`messages[].status.groupName`: PENDING accepted, REJECTED refused);
delivery reports arrive at `notifyUrl` as `{"results": [{messageId, to, status{groupId,
groupName, id, name}, error{…}, …}]}`, several per POST. Infobip does not sign them: the
URL's token admits them (gateway/callback_auth.py).

Inbound sample: {"results": [{"messageId": "…", "from": "243810000001", "to": "…",
  "text": "AIDE", "cleanText": "", "keyword": "AIDE", "receivedAt": "…", "smsCount": 1}],
  "messageCount": 1, "pendingMessageCount": 0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sms.providers.base import (
    Outcome,
    ProviderError,
    ProviderResult,
    RecipientResult,
    ReportState,
)
from sms.providers.http import JsonApi, body_of, http_outcome

NAME: Final = "infobip"
SEND_PATH: Final = "/sms/2/text/advanced"
# Status groups (groupName) of the send answer and of delivery reports.
REPORT_STATES: Final[Mapping[str, ReportState]] = {
    "DELIVERED": ReportState.DELIVERED,
    "UNDELIVERABLE": ReportState.UNDELIVERED,
    "EXPIRED": ReportState.UNDELIVERED,
    "REJECTED": ReportState.UNDELIVERED,
    "PENDING": ReportState.INTERMEDIATE,
}
# Rejections at send time that concern the account, not the number: pause sending.
_HOLD_STATUSES: Final = frozenset({"REJECTED_NOT_ENOUGH_CREDITS", "REJECTED_SENDER"})


def digits(number: str) -> str:
    """Return `+243…` as Infobip writes it: international digits, no `+`."""
    return number.strip().lstrip("+")


class InfobipProvider:
    """Send through Infobip; one request for every recipient, one status each."""

    name = NAME

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        sender: str,
        notify_url: str = "",
        timeout_seconds: float = 10.0,
    ) -> None:
        self._api = JsonApi("Infobip", base_url, timeout_seconds)
        self._key = api_key
        self._sender = sender
        self._notify_url = notify_url

    def send(self, to: Sequence[str], text: str, sender_id: str | None) -> ProviderResult:
        """POST one message to every number; read each destination's status."""
        message: dict[str, Any] = {
            "destinations": [{"to": digits(number)} for number in to],
            "text": text,
        }
        if self._sender:
            message["from"] = self._sender
        if self._notify_url:
            message["notifyUrl"] = self._notify_url
            message["notifyContentType"] = "application/json"
        response = self._api.post(
            SEND_PATH,
            json={"messages": [message]},
            headers={"Authorization": f"App {self._key}", "Accept": "application/json"},
        )
        found = body_of(response)
        if response.status_code != 200:
            outcome = http_outcome(response.status_code)
            raise ProviderError(outcome, f"Infobip answered HTTP {response.status_code}")
        if not isinstance(found, dict) or not isinstance(found.get("messages"), list):
            # Accepted or not, we cannot tell: a retry could send it twice.
            raise ProviderError(Outcome.UNKNOWN, "Infobip answered 200 in a shape we cannot read")
        by_digits = {digits(number): number for number in to}
        results = []
        for item in found["messages"]:
            if not isinstance(item, dict) or not isinstance(item.get("status"), dict):
                continue
            number = by_digits.get(str(item.get("to", "")))
            if number is None:
                continue
            status = item["status"]
            group, name = str(status.get("groupName", "")), str(status.get("name", ""))
            if name in _HOLD_STATUSES:
                raise ProviderError(Outcome.HOLD, f"Infobip refused the account: {name}")
            verdict = Outcome.ACCEPTED if group in ("PENDING", "DELIVERED") else Outcome.PERMANENT
            results.append(
                RecipientResult(
                    number,
                    int(status.get("id") or 0),
                    name or group,
                    str(item.get("messageId") or ""),
                    verdict=verdict,
                )
            )
        return ProviderResult(tuple(results))


def _results(body: Any) -> list[dict[str, Any]]:
    items = body.get("results") if isinstance(body, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _international(raw: Any) -> str:
    # Infobip writes numbers without `+`: put it back, or the city's region would read them.
    text = str(raw or "").strip()
    return "+" + text if text.isdigit() else text


def inbound_payloads(body: Any) -> list[dict[str, str]]:
    """Return each inbound message of an MO_JSON_2 POST under sms.callbacks' names."""
    return [
        {
            "id": str(item.get("messageId") or ""),
            "from": _international(item.get("from")),
            "to": str(item.get("to") or ""),
            "text": str(item.get("text") or ""),
            "date": str(item.get("receivedAt") or ""),
        }
        for item in _results(body)
    ]


def delivery_payloads(body: Any) -> list[dict[str, str]]:
    """Return each delivery report of one POST under sms.callbacks' names."""
    payloads = []
    for item in _results(body):
        status = _mapping(item.get("status"))
        error = _mapping(item.get("error"))
        failed = error.get("id") not in (None, 0)
        payloads.append(
            {
                "id": str(item.get("messageId") or ""),
                "status": str(status.get("groupName") or ""),
                "phoneNumber": _international(item.get("to")),
                "failureReason": str(error.get("name") if failed else status.get("name") or ""),
            }
        )
    return payloads
