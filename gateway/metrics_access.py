"""Who may read `/metrics`: an address of METRICS_CIDRS, or a caller with METRICS_TOKEN.

The counters describe what citizens do and how the city's services fail: production refuses
to start with neither set (gateway/config.py). Development with neither serves everyone.
"""

from __future__ import annotations

import hmac

from flask import Request

from gateway.client_ip import ClientAddress, parse_address, within
from gateway.config import Settings, networks


def metrics_refusal(settings: Settings, clients: ClientAddress, request: Request) -> int | None:
    """Return 401 (no or wrong token) or 403 (address not allowed), or None to serve."""
    allowed = networks(settings.metrics_cidrs)
    token = settings.metrics_token
    if not allowed and not token:
        return None
    if allowed and within(parse_address(clients.of(request.remote_addr, request.headers)), allowed):
        return None
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), token.encode()
        ):
            return None
        return 401
    return 403
