"""Who may call our callback URLs: a secret token per channel and an optional IP allowlist.

Aggregators and payment providers do not sign their callbacks, so each URL we give them
carries a secret, either as a path segment (preferred: `<rule>/t/<token>`) or as `?token=`.
One mechanism serves every channel:

    ussd      USSD_CALLBACK_TOKEN     USSD_CALLBACK_CIDRS      /ussd/<adapter>[...]
    sms       SMS_CALLBACK_TOKEN      SMS_CALLBACK_CIDRS       /sms/<provider>/...
    payments  PAYMENT_CALLBACK_TOKEN  PAYMENT_CALLBACK_CIDRS   /payments/<provider>/callback

A wrong or missing token, or a client outside the channel's networks, is refused with a 403
before anything is read or stored. Tokens are compared in constant time and never logged;
`runtime.masking.UrlSecretFilter` keeps them out of the access logs. In development a channel
without a token accepts any caller (said once at start-up); production refuses to start.

Register a callback view with `callback_route(blueprint, rule, channel)`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from gateway.client_ip import ClientAddress, HeaderSource, Network, parse_address, within
from gateway.config import Settings, networks

log = logging.getLogger(__name__)

Channel = Literal["ussd", "sms", "payments"]
CHANNELS: Final[tuple[Channel, ...]] = ("ussd", "sms", "payments")
TOKEN_SEGMENT: Final = "/t/<token>"  # noqa: S105 - a URL pattern, not a secret
_TOKEN_ENV: Final[Mapping[Channel, str]] = {
    "ussd": "USSD_CALLBACK_TOKEN",
    "sms": "SMS_CALLBACK_TOKEN",
    "payments": "PAYMENT_CALLBACK_TOKEN",
}


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """One channel's secret (empty: any caller, development only) and allowed networks."""

    token: str
    networks: tuple[Network, ...] = ()


class CallbackGate:
    """Decide whether a callback request may be processed."""

    def __init__(self, policies: Mapping[Channel, ChannelPolicy], clients: ClientAddress) -> None:
        self._policies = dict(policies)
        self.clients = clients

    @classmethod
    def from_settings(cls, settings: Settings) -> CallbackGate:
        """Build the gate from the settings."""
        policies: dict[Channel, ChannelPolicy] = {
            "ussd": ChannelPolicy(
                settings.ussd_callback_token, networks(settings.ussd_callback_cidrs)
            ),
            "sms": ChannelPolicy(
                settings.sms_callback_token, networks(settings.sms_callback_cidrs)
            ),
            "payments": ChannelPolicy(
                settings.payment_callback_token, networks(settings.payment_callback_cidrs)
            ),
        }
        clients = ClientAddress(networks(settings.trusted_proxies), settings.proxy_client_header)
        return cls(policies, clients)

    def announce_open_channels(self) -> None:
        """Say once, at start-up, which channels accept callbacks without a token."""
        open_channels = [name for name, policy in self._policies.items() if not policy.token]
        if open_channels:
            # Production never gets here without tokens (Settings.validate refuses it).
            log.warning(
                "development: callbacks accepted without a token on %s (set %s to require one)",
                ", ".join(open_channels),
                ", ".join(_TOKEN_ENV[name] for name in open_channels),
            )

    def token(self, channel: Channel) -> str:
        """Return `channel`'s token, to build the URLs we hand out."""
        return self._policies[channel].token

    def refusal(self, channel: Channel, presented: str | None, client_ip: str) -> str | None:
        """Return why this caller is refused (never the token itself), or None to admit it."""
        policy = self._policies[channel]
        if policy.networks and not within(parse_address(client_ip), policy.networks):
            return "client outside the allowed networks"
        if policy.token and not same_secret(presented or "", policy.token):
            return "missing token" if not presented else "wrong token"
        return None

    def admits(
        self, channel: Channel, presented: str | None, peer: str | None, headers: HeaderSource
    ) -> bool:
        """Tell whether this caller may proceed; log why not (never the token)."""
        client_ip = self.clients.of(peer, headers)
        reason = self.refusal(channel, presented, client_ip)
        if reason is None:
            return True
        log.warning("%s callback refused: %s (client %s)", channel, reason, client_ip)
        return False


def same_secret(presented: str, expected: str) -> bool:
    """Compare two secrets in constant time, whatever their lengths."""
    # Digests first: compare_digest leaks a length mismatch, digests all have one length.
    left = hashlib.sha256(presented.encode("utf-8", "replace")).digest()
    right = hashlib.sha256(expected.encode("utf-8", "replace")).digest()
    return hmac.compare_digest(left, right)


def forbidden_json() -> Response:
    """Return the default refusal: 403 with a JSON body."""
    response = jsonify(error="forbidden", message="unknown callback token or caller")
    response.status_code = 403
    return response


View = Callable[..., ResponseReturnValue]


def guard(channel: Channel, refuse: Callable[[], ResponseReturnValue] = forbidden_json) -> Any:
    """Decorate a view: refuse callers without `channel`'s token or outside its networks."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            presented = kwargs.pop("token", None)
            if presented is None:
                presented = request.args.get("token")
            gate: CallbackGate = current_app.extensions["guichet"].get(CallbackGate)
            if not gate.admits(channel, presented, request.remote_addr, request.headers):
                return refuse()
            return view(*args, **kwargs)

        # Marks the view for the test proving every callback URL is guarded.
        guarded.__dict__["callback_channel"] = channel
        return guarded

    return decorate


def callback_route(
    blueprint: Blueprint,
    rule: str,
    channel: Channel,
    *,
    refuse: Callable[[], ResponseReturnValue] = forbidden_json,
    methods: tuple[str, ...] = ("POST",),
) -> Callable[[View], View]:
    """Register `rule` and `rule/t/<token>` for a view guarded by `channel`'s token."""

    def decorate(view: View) -> View:
        guarded: View = guard(channel, refuse)(view)
        blueprint.add_url_rule(rule, view_func=guarded, methods=list(methods))
        blueprint.add_url_rule(rule + TOKEN_SEGMENT, view_func=guarded, methods=list(methods))
        return guarded

    return decorate
