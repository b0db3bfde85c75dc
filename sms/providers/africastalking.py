"""Africa's Talking through its official SDK, pointed at a configurable API root.

The SDK's `SMSService` is built directly (never `africastalking.initialize()`, which keeps
module globals). It has no base-URL setting, so `_baseUrl` is overwritten: the tests and
`make run` point it at `fakes.africastalking`. The SDK sends with `requests.post`; since 2.0.3
it takes a `timeout` argument (older releases had none), and we always pass ours so a slow
API can never hold a worker longer than AT_TIMEOUT_SECONDS.

`requests.post` opens a new connection (a TLS handshake with the real API) for every SMS:
`_KeepAliveSms` keeps the SDK's validation, form and answer handling and sends its POSTs over
kept connections (sms.providers.keepalive), failing with the same `requests` errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import africastalking
import requests
from africastalking.Service import AfricasTalkingException

from sms.providers.base import (
    Outcome,
    ProviderError,
    ProviderResult,
    RecipientResult,
    ReportState,
)
from sms.providers.keepalive import KeepAlive

NAME: Final = "africastalking"
DEFAULT_API_ROOT: Final = "https://api.africastalking.com"
# Delivery report statuses.
REPORT_STATES: Final = {
    "Success": ReportState.DELIVERED,
    **dict.fromkeys(("Rejected", "Failed", "AbsentSubscriber", "Expired"), ReportState.UNDELIVERED),
    **dict.fromkeys(("Sent", "Submitted", "Buffered"), ReportState.INTERMEDIATE),
}
# Connecting is quick or broken: a short connect timeout fails fast and is safe to retry.
_CONNECT_TIMEOUT: Final = 3.05


class _KeepAliveSms(africastalking.SMSService):  # type: ignore[misc]
    """The SDK's SMS service, its POSTs sent over kept connections (sms.providers.keepalive)."""

    def __init__(self, username: str, api_key: str, api_root: str) -> None:
        super().__init__(username, api_key)
        # The SDK appends /version1 itself in _init_service; keep that shape for any root.
        self._baseUrl = api_root.rstrip("/") + "/version1"
        self.transport = KeepAlive(self._baseUrl)

    def _make_request(
        self,
        url: str,
        method: str,
        *,
        headers: dict[str, str],
        data: Any,
        params: Any,
        callback: Any = None,
        timeout: Any = None,
    ) -> Any:
        # The SDK names every argument but the first two (SMS.py, 2.0.x).
        if method.upper() != "POST" or callback is not None or params:
            return super()._make_request(
                url,
                method,
                headers=headers,
                data=data,
                params=params,
                callback=callback,
                timeout=timeout,
            )
        answer = self.transport.post_form(url, data, headers, timeout)
        # What the SDK's own _make_request does with the answer.
        if 200 <= answer.status < 300:
            if answer.content_type == "application/json":
                return answer.json()
            return answer.text
        raise AfricasTalkingException(answer.text)


class AfricasTalkingProvider:
    """Send through Africa's Talking and read every recipient's statusCode."""

    name = NAME

    def __init__(
        self,
        *,
        username: str,
        api_key: str,
        api_root: str = DEFAULT_API_ROOT,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._service = _KeepAliveSms(username, api_key, api_root)
        self._timeout = (min(_CONNECT_TIMEOUT, timeout_seconds), timeout_seconds)

    @property
    def endpoint(self) -> str:
        """Return the URL messages are POSTed to."""
        return str(self._service._make_url("/messaging"))

    def send(self, to: Sequence[str], text: str, sender_id: str | None) -> ProviderResult:
        """POST the message; classify transport failures, then read every recipient."""
        try:
            body = self._service.send(text, list(to), sender_id or None, timeout=self._timeout)
        except ValueError as exc:  # the SDK refuses a malformed number before any I/O
            raise ProviderError(Outcome.PERMANENT, f"rejected by the SDK: {exc}") from None
        except requests.ConnectionError as exc:
            # Includes ConnectTimeout: nothing reached AT, so retrying is safe.
            raise ProviderError(
                Outcome.TRANSIENT, f"cannot reach AT: {type(exc).__name__}"
            ) from None
        except requests.ReadTimeout:
            # AT may have accepted the message before the answer was late. Issue 4 classes
            # timeouts as transient: retried with growing delays, accepting a rare duplicate
            # rather than a lost receipt or alert (README: SMS; sms/delivery.py).
            raise ProviderError(
                Outcome.TRANSIENT, "read timeout (AT may have accepted it)"
            ) from None
        except requests.RequestException as exc:
            raise _unknown(f"transport error {type(exc).__name__}") from None
        except AfricasTalkingException as exc:
            raise _http_error(str(exc)) from None
        return _parse(body)


def _unknown(detail: str) -> ProviderError:
    # AT may have accepted the message before the connection broke: the outcome is unknown.
    return ProviderError(Outcome.UNKNOWN, detail)


def _http_error(body: str) -> ProviderError:
    # The SDK raises with the response body only (no status code). AT answers a bad key or
    # username with "The supplied authentication is invalid": every message would fail the
    # same way, so that pauses sending like an account hold. Anything else (5xx, gateway
    # pages) is treated as transient, with bounded retries.
    if "authentication" in body.lower():
        return ProviderError(Outcome.HOLD, "authentication refused by AT")
    return ProviderError(Outcome.TRANSIENT, "AT answered an HTTP error")


def _parse(body: Any) -> ProviderResult:
    # A 2xx that is not JSON (the SDK returns text unless Content-Type is exactly
    # application/json) may still mean AT accepted the message: outcome unknown.
    if not isinstance(body, dict):
        raise _unknown("AT answered 2xx without a JSON body")
    try:
        summary = str(body["SMSMessageData"].get("Message", ""))
        recipients = body["SMSMessageData"]["Recipients"]
        results = tuple(
            RecipientResult(
                number=str(item["number"]),
                status_code=int(item["statusCode"]),
                status=str(item.get("status", "")),
                message_id=str(item.get("messageId") or ""),
                cost=str(item.get("cost") or ""),
            )
            for item in recipients
        )
    except (KeyError, TypeError, ValueError):
        raise _unknown("AT answered an unexpected JSON shape") from None
    return ProviderResult(results, summary)
