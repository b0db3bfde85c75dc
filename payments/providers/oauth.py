"""One OAuth2 client-credentials token per provider, fetched once and reused until it expires.

Daraja, Airtel's Open API and Orange each answer {access_token, expires_in}; only the request
differs (GET with Basic auth, JSON body, form with Basic auth), so each provider hands this cache
the call that fetches a token and the error it raises.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import requests

from payments.providers.http import json_object


class TokenCache:
    """A bearer token shared by the provider's threads, renewed `margin` seconds early."""

    def __init__(
        self,
        fetch: Callable[[], requests.Response],
        error: Callable[[str], Exception],
        *,
        clock: Callable[[], float],
        margin_seconds: float,
        default_expires_in: float,
    ) -> None:
        self._fetch = fetch
        self._error = error
        self._clock = clock
        self._margin = margin_seconds
        self._default_expires_in = default_expires_in  # when the answer omits expires_in
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def get(self) -> str:
        """Return a valid token, fetching a new one when none is cached or it is about to expire."""
        with self._lock:
            if self._token is not None and self._clock() < self._expires:
                return self._token
            response = self._fetch()
            if response.status_code != 200:
                raise self._error(f"oauth answered HTTP {response.status_code}")
            data = json_object(response)
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise self._error("oauth answer has no access_token")
            raw = data.get("expires_in", self._default_expires_in)
            try:  # a string ("180") in Airtel's sample, a number elsewhere
                expires_in = float(str(raw))
            except ValueError:
                expires_in = 0.0
            self._token = token
            self._expires = self._clock() + max(expires_in - self._margin, 0.0)
            return token

    def forget(self) -> None:
        """Drop the cached token (the provider refused it): the next call fetches a new one."""
        with self._lock:
            self._token = None
