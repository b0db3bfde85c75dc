"""Twilio Programmable Messaging through the official `twilio` package.

One `Messages.json` POST per recipient (Twilio takes one `To` per message). The client is
built from settings, never from the environment, and pointed at TWILIO_API_BASE_URL
(`client.api.base_url`: the tests and `make run` use `fakes.twilio`). Error texts Twilio
returns quote the number, so only the numeric error code is kept (runtime/masking.py).

Twilio signs every webhook (`X-Twilio-Signature`); the edge checks it with the package's
`RequestValidator` before anything here reads the form (gateway/sms_callbacks.py).

Status callback sample: MessageSid=SM…&MessageStatus=delivered&To=+243…&From=+1…
                        &AccountSid=AC…&ErrorCode=30003 (on undelivered/failed)
Inbound sample:         MessageSid=SM…&From=+243…&To=+1…&Body=STATUT 12345674&AccountSid=AC…
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Final

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from sms.providers.base import (
    Outcome,
    ProviderError,
    ProviderResult,
    RecipientResult,
    ReportState,
)

NAME: Final = "twilio"
DEFAULT_API_BASE_URL: Final = "https://api.twilio.com"
# Error codes of the create call that concern the account, not this message: pause sending.
_HOLD_CODES: Final = frozenset({20003, 20005, 10001, 30002})  # auth, suspended, inactive
_TRANSIENT_CODES: Final = frozenset({20429, 20500, 20503, 30001})  # rate, internal, queue full
# Message statuses (status callbacks and the create answer) and what they mean for us.
REPORT_STATES: Final[Mapping[str, ReportState]] = {
    "delivered": ReportState.DELIVERED,
    "read": ReportState.DELIVERED,
    "undelivered": ReportState.UNDELIVERED,
    "failed": ReportState.UNDELIVERED,
    "canceled": ReportState.UNDELIVERED,
    "accepted": ReportState.INTERMEDIATE,
    "scheduled": ReportState.INTERMEDIATE,
    "queued": ReportState.INTERMEDIATE,
    "sending": ReportState.INTERMEDIATE,
    "sent": ReportState.INTERMEDIATE,
    "partially_delivered": ReportState.INTERMEDIATE,
}


class TwilioProvider:
    """Send through Twilio; one request, and one answer, per recipient."""

    name = NAME

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: str,
        api_base_url: str = DEFAULT_API_BASE_URL,
        status_callback: str = "",
        timeout_seconds: float = 10.0,
    ) -> None:
        # The package logs ~10 INFO lines per request (URL, headers): ours says one per SMS.
        quiet = logging.getLogger(f"{__name__}.http")
        quiet.setLevel(logging.WARNING)
        self._client = Client(
            account_sid,
            auth_token,
            http_client=TwilioHttpClient(timeout=timeout_seconds, logger=quiet),
            # Settings only: an empty mapping would make the client read os.environ's
            # TWILIO_EDGE / TWILIO_REGION, which rewrite the API host.
            environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
        )
        self._client.api.base_url = api_base_url.rstrip("/")
        # TWILIO_FROM is a number, an alphanumeric sender or a Messaging Service (MG…).
        self._sender = sender
        self._status_callback = status_callback

    def send(self, to: Sequence[str], text: str, sender_id: str | None) -> ProviderResult:
        """POST one message per number; an account-level refusal stops the whole call."""
        return ProviderResult(tuple(self._send_one(number, text) for number in to))

    def _send_one(self, number: str, text: str) -> RecipientResult:
        sender = (
            {"messaging_service_sid": self._sender}
            if self._sender.startswith("MG")
            else {"from_": self._sender}
        )
        try:
            message = self._client.messages.create(
                to=number,
                body=text,
                status_callback=self._status_callback or None,
                **sender,
            )
        except TwilioRestException as exc:
            return _refused(number, exc)
        except requests.ConnectionError as exc:
            raise ProviderError(
                Outcome.TRANSIENT, f"cannot reach Twilio: {type(exc).__name__}"
            ) from None
        except requests.Timeout:
            # As with AT (sms/delivery.py): retried, accepting a rare duplicate.
            raise ProviderError(
                Outcome.TRANSIENT, "read timeout (Twilio may have accepted it)"
            ) from None
        except requests.RequestException as exc:
            raise ProviderError(Outcome.UNKNOWN, f"transport error {type(exc).__name__}") from None
        status = str(message.status or "")
        if REPORT_STATES.get(status) == ReportState.UNDELIVERED:
            code = int(message.error_code or 0)
            return RecipientResult(
                number, code, status, str(message.sid), verdict=Outcome.PERMANENT
            )
        return RecipientResult(
            number, 201, status, str(message.sid), str(message.price or ""), Outcome.ACCEPTED
        )


def _refused(number: str, exc: TwilioRestException) -> RecipientResult:
    code = int(exc.code or 0)
    if exc.status == 401 or code in _HOLD_CODES:
        raise ProviderError(
            Outcome.HOLD, f"Twilio refused the account (error {code or exc.status})"
        )
    if exc.status == 429 or exc.status >= 500 or code in _TRANSIENT_CODES:
        verdict = Outcome.TRANSIENT
    else:
        # 21211 invalid To, 21614 not a mobile, 21610 the recipient sent STOP, 21408 region...
        verdict = Outcome.PERMANENT
    # exc.msg quotes the number: only the code is kept.
    return RecipientResult(
        number, code or exc.status, f"Twilio error {code or exc.status}", verdict=verdict
    )


def inbound_payload(form: Mapping[str, str]) -> dict[str, str]:
    """Return an inbound SMS webhook's fields under the names sms.callbacks reads."""
    return {
        "id": form.get("MessageSid") or form.get("SmsSid") or "",
        "from": form.get("From", ""),
        "to": form.get("To", ""),
        "text": form.get("Body", ""),
    }


def delivery_payload(form: Mapping[str, str]) -> dict[str, str]:
    """Return a status callback's fields under the names sms.callbacks reads."""
    return {
        "id": form.get("MessageSid") or form.get("SmsSid") or "",
        "status": form.get("MessageStatus") or form.get("SmsStatus") or "",
        "phoneNumber": form.get("To", ""),
        "failureReason": form.get("ErrorCode", ""),
    }
