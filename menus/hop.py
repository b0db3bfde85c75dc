"""One USSD hop: lock and load the session, walk the menu, save, then enqueue effects."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UssdRequest:
    """An aggregator-neutral USSD hop (the edge's adapter builds it)."""

    session_id: str
    msisdn: str  # E.164
    service_code: str
    network_code: str
    text: str  # as the aggregator sent it
    cumulative: bool = True  # Africa's Talking: everything typed so far joined by "*"


@dataclass(frozen=True, slots=True)
class UssdReply:
    """What the phone shows: a screen waiting for input, or the last one."""

    end: bool
    body: str

    def wire(self) -> str:
        """Return the Africa's Talking body: `CON <screen>` or `END <screen>`."""
        return ("END " if self.end else "CON ") + self.body


class HopHandler:
    """Answer USSD hops from the compiled menus and the Redis session store."""

    def handle(self, request: UssdRequest) -> UssdReply:
        """Answer one hop."""
        raise NotImplementedError  # being built: see issue 2

    def bad_request(self) -> UssdReply:
        """Return the END shown when the request itself is malformed."""
        raise NotImplementedError

    def unavailable(self) -> UssdReply:
        """Return the END shown when Redis or the back office is down."""
        raise NotImplementedError
