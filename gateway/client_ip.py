"""The client's IP address: the direct peer, or what a trusted reverse proxy says it is.

A forwarding header is believed only when the direct peer is one of TRUSTED_PROXIES: anyone
can send `X-Forwarded-For: 196.201.214.1`, so an untrusted peer's header is ignored. Behind a
chain of our proxies the client is the right-most address that is not one of them.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Protocol

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


class HeaderSource(Protocol):
    """Anything with `get(name)`: a dict or a request's headers."""

    def get(self, key: str, /) -> str | None:
        """Return the header's value, or None."""


def parse_address(raw: str) -> Address | None:
    """Return `raw` as an IP address, or None when it is not one."""
    try:
        return ip_address(raw.strip())
    except ValueError:
        return None


def within(address: Address | None, allowed: tuple[Network, ...]) -> bool:
    """Tell whether `address` belongs to one of `allowed`."""
    if address is None:
        return False
    return any(address.version == net.version and address in net for net in allowed)


class ClientAddress:
    """Resolve the client IP of a request from its peer and, behind our proxies, a header."""

    def __init__(self, trusted_proxies: tuple[Network, ...], header: str) -> None:
        self._trusted = trusted_proxies
        self._header = header

    def of(self, peer: str | None, headers: HeaderSource) -> str:
        """Return the client IP of a request whose direct peer is `peer`."""
        direct = peer or ""
        if not self._trusted or not within(parse_address(direct), self._trusted):
            return direct
        raw = headers.get(self._header)
        if not raw:
            return direct
        hops = [hop.strip() for hop in raw.split(",") if hop.strip()]
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                return direct  # a garbled header is not evidence of anything
            if not within(address, self._trusted):
                return str(address)
        return str(parse_address(hops[0])) if hops else direct
