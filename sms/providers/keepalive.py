"""One keep-alive HTTP connection pool for the SDK's POSTs, failing like `requests` does.

The Africa's Talking SDK sends every SMS with `requests.post`: a new connection (a TLS
handshake with the real API) per message, plus the proxy variables and ~/.netrc read per
call. Measured on the 2-vCPU bench machine against the fake API, that is ~2.5 ms of a worker's
time per SMS; a `requests.Session` ~1.4 ms; urllib3 (what requests itself sends with) on a
kept connection ~0.7 ms (bench/README.md, SMS pipeline). So the POST goes through urllib3,
and its errors are raised as the `requests` errors they would have become, which is what
`AfricasTalkingProvider` classifies (connect failure, read timeout, anything else).

Proxies (HTTPS_PROXY, NO_PROXY) are read once; certificates are certifi's, as with requests.
After a fork the child opens a pool of its own: two processes never share a socket.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import certifi
import requests
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back: the status, the Content-Type header, the body."""

    status: int
    content_type: str | None
    body: bytes

    @property
    def text(self) -> str:
        """Return the body as text (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)


class KeepAlive:
    """POST forms to one API root over kept connections."""

    def __init__(self, root: str) -> None:
        self._root = root
        self._pool = _pool(root)
        reference = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _renew(reference))

    def post_form(
        self,
        url: str,
        form: Mapping[str, Any],
        headers: Mapping[str, str],
        timeout: tuple[float, float],
    ) -> Answer:
        """POST `form` url-encoded; raise requests' ConnectionError, ReadTimeout or error."""
        body = urllib.parse.urlencode(form)
        try:
            response = self._pool.request(
                "POST",
                url,
                body=body,
                headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
                timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
                retries=False,  # as requests: a failed call is reported, never silently resent
                redirect=False,
            )
        except (ConnectTimeoutError, NewConnectionError) as exc:  # nothing reached the API
            raise requests.ConnectionError(str(exc)) from None
        except ReadTimeoutError as exc:
            raise requests.ReadTimeout(str(exc)) from None
        except ProtocolError as exc:  # requests raises ConnectionError for these too
            raise requests.ConnectionError(str(exc)) from None
        except HTTPError as exc:
            raise requests.RequestException(str(exc)) from None
        return Answer(response.status, response.headers.get("content-type"), response.data)


def _pool(root: str) -> urllib3.PoolManager:
    proxies = requests.utils.get_environ_proxies(root)
    proxy = proxies.get(urllib.parse.urlsplit(root).scheme) or proxies.get("all")
    if proxy:
        return urllib3.ProxyManager(proxy, maxsize=4, ca_certs=certifi.where())
    return urllib3.PoolManager(maxsize=4, ca_certs=certifi.where())


def _renew(reference: weakref.ref[KeepAlive]) -> None:
    transport = reference()
    if transport is not None:
        transport._pool = _pool(transport._root)
