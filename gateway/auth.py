"""Bearer API keys for agents and the city portal, kept as SHA-256 digests.

Keys are long random strings handed out by the city, so a plain SHA-256 digest is enough to
keep them useless when the configuration leaks (no password-style stretching needed).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, ParamSpec, TypeVar

from flask import current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from gateway.config import DEMO_API_KEYS, ConfigError, Settings

P = ParamSpec("P")
R = TypeVar("R")

SCOPES: Final = frozenset({"agent", "portal"})
DEMO_KEYS: Final = DEMO_API_KEYS


def parse_key_offices(text: str) -> dict[str, frozenset[str]]:
    """Read API_KEY_OFFICES: `key_id:office+office,...` (a key not named sees every office)."""
    found: dict[str, frozenset[str]] = {}
    for raw in filter(None, (part.strip() for part in text.split(","))):
        key_id, _, names = raw.partition(":")
        offices = frozenset(o.strip() for o in names.split("+") if o.strip())
        if not key_id.strip() or not offices:
            raise ConfigError(f"API_KEY_OFFICES entry {raw!r} is not key_id:office+office")
        found[key_id.strip()] = offices
    return found


def digest(key: str) -> str:
    """Return the at-rest form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One configured key: who holds it, what it may do, and its digest."""

    key_id: str
    scope: str
    digest: str
    # The offices whose requests the key may see (API_KEY_OFFICES); None: every office.
    offices: frozenset[str] | None = None


class ApiKeyring:
    """The configured keys; authenticates a presented bearer key in constant time."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = keys

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiKeyring:
        """Parse API_KEYS; development without keys gets the documented demo keys."""
        keys: list[ApiKey] = []
        for raw in filter(None, (part.strip() for part in settings.api_keys.split(","))):
            key_id, scope, hexdigest = [*raw.split(":"), "", ""][:3]
            if not key_id or scope not in SCOPES or len(hexdigest) != 64:
                raise ConfigError(f"API_KEYS entry for {key_id or '?'!r} is not id:scope:sha256hex")
            keys.append(ApiKey(key_id, scope, hexdigest.lower()))
        if not keys and settings.env == "development":
            keys = [ApiKey(kid, scope, digest(key)) for key, (kid, scope) in DEMO_KEYS.items()]
        offices = parse_key_offices(settings.api_key_offices)
        unknown = sorted(set(offices) - {key.key_id for key in keys})
        if unknown:
            raise ConfigError(f"API_KEY_OFFICES names no key {', '.join(unknown)}")
        return cls([dataclasses.replace(k, offices=offices.get(k.key_id)) for k in keys])

    def authenticate(self, presented: str) -> ApiKey | None:
        """Return the key matching `presented`, comparing every digest in constant time."""
        candidate = digest(presented)
        found: ApiKey | None = None
        for key in self._keys:
            if hmac.compare_digest(candidate, key.digest):
                found = key
        return found


def require_api_key(
    *scopes: str,
) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, ResponseReturnValue]]:
    """Guard a view: 401 without a known bearer key, 403 when its scope is not allowed."""

    def decorate(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            keyring: ApiKeyring = current_app.extensions["guichet"].get(ApiKeyring)
            header = request.headers.get("Authorization", "")
            scheme, _, presented = header.partition(" ")
            key = keyring.authenticate(presented.strip()) if scheme.lower() == "bearer" else None
            if key is None:
                response = jsonify(
                    error="unauthorized", message="a valid bearer API key is required"
                )
                response.status_code = 401
                response.headers["WWW-Authenticate"] = 'Bearer realm="guichet"'
                return response
            if key.scope not in scopes:
                response = jsonify(error="forbidden", message=f"this key's scope is {key.scope}")
                response.status_code = 403
                return response
            g.api_key = key
            return view(*args, **kwargs)

        return guarded

    return decorate
