"""What every HTTP provider adapter needs to tell about a request: did it leave, what came back."""

from __future__ import annotations

from typing import Any

import requests
from urllib3.exceptions import NewConnectionError


def never_connected(exc: requests.RequestException) -> bool:
    """Tell whether the request certainly never reached the server (pushing again is safe)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NewConnectionError):
            return True
        nested = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = nested or seen.__cause__ or seen.__context__
        if seen is exc:
            break
    return False


def json_object(response: requests.Response) -> dict[str, Any]:
    """Return the response's JSON object, or {} when the body is not one."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
