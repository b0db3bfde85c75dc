"""One JSON API over a kept `requests` session, its transport failures said as ProviderErrors.

Orange and Infobip are two or three HTTP calls each: a thin client here is smaller than their
SDKs and keeps the fakes byte-faithful (../shared/PROVIDERS.md §7). Failures are classified
as for Africa's Talking (sms/delivery.py): nothing reached the API, or the answer was late,
is transient (retried, a late answer accepting a rare duplicate); anything else unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import requests

from sms.providers.base import Outcome, ProviderError

_CONNECT_TIMEOUT: Final = 3.05


class JsonApi:
    """POST to one API root; raise ProviderError when no answer came back."""

    def __init__(self, name: str, base_url: str, timeout_seconds: float) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()
        self._timeout = (min(_CONNECT_TIMEOUT, timeout_seconds), timeout_seconds)

    def post(
        self,
        path: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        data: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> requests.Response:
        """POST `json` (or the form `data`) to `path` under the API root."""
        try:
            return self._session.post(
                self.base_url + path,
                json=json,
                data=data,
                headers=dict(headers),
                auth=auth,
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.ConnectionError as exc:  # ConnectTimeout included: nothing was sent
            raise ProviderError(
                Outcome.TRANSIENT, f"cannot reach {self.name}: {type(exc).__name__}"
            ) from None
        except requests.Timeout:
            raise ProviderError(
                Outcome.TRANSIENT, f"read timeout ({self.name} may have accepted it)"
            ) from None
        except requests.RequestException as exc:
            raise ProviderError(Outcome.UNKNOWN, f"transport error {type(exc).__name__}") from None


def body_of(response: requests.Response) -> Any:
    """Return the JSON body, or None when there is none."""
    try:
        return response.json()
    except ValueError:
        return None


def http_outcome(status: int) -> Outcome:
    """Map an HTTP error status to what we do: pause, retry or give up on the message."""
    if status in (401, 403):
        return Outcome.HOLD  # credentials, bundle or balance: every message would fail alike
    if status == 429 or status >= 500:
        return Outcome.TRANSIENT
    return Outcome.PERMANENT
