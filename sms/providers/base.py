"""The provider port: send one text to numbers, get a status per recipient."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol


class Outcome(StrEnum):
    """What a provider's answer means for the message."""

    ACCEPTED = "accepted"  # handed over; delivery reports tell the rest
    TRANSIENT = "transient"  # not sent; safe to retry later
    HOLD = "hold"  # the account cannot send (risk hold, no balance): pause everything
    PERMANENT = "permanent"  # this message will never go (invalid number, blacklisted, ...)
    UNKNOWN = "unknown"  # the request may or may not have been acted on (read timeout)


# Africa's Talking per-recipient statusCode values.
ACCEPTED_CODES: Final = frozenset({100, 101, 102})  # Processed, Sent, Queued
TRANSIENT_CODES: Final = frozenset({500, 501})  # InternalServerError, GatewayError
HOLD_CODES: Final = frozenset({401, 405})  # RiskHold, InsufficientBalance


def classify(status_code: int) -> Outcome:
    """Map a per-recipient statusCode to what we do with the message."""
    if status_code in ACCEPTED_CODES:
        return Outcome.ACCEPTED
    if status_code in TRANSIENT_CODES:
        return Outcome.TRANSIENT
    if status_code in HOLD_CODES:
        return Outcome.HOLD
    # 402 InvalidSenderId, 403 InvalidPhoneNumber, 404 UnsupportedNumberType,
    # 406 UserInBlacklist, 407 CouldNotRoute, 409 DoNotDisturbRejection, 502 Rejected...
    return Outcome.PERMANENT


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """The provider's answer for one number."""

    number: str
    status_code: int
    status: str
    message_id: str = ""
    cost: str = ""
    # Said by providers whose codes are not Africa's Talking's (Twilio, Orange, Infobip);
    # None: the AT statusCode decides (classify).
    verdict: Outcome | None = None

    @property
    def outcome(self) -> Outcome:
        """Return what this answer means for the message."""
        return self.verdict if self.verdict is not None else classify(self.status_code)


@dataclass(frozen=True, slots=True)
class ProviderResult:
    """The provider's answer for every recipient of one send."""

    recipients: tuple[RecipientResult, ...]
    summary: str = ""  # AT's SMSMessageData.Message, e.g. "Sent to 1/1 Total Cost: ..."

    def for_number(self, number: str) -> RecipientResult | None:
        """Return the answer about `number`, if the provider gave one."""
        return next((r for r in self.recipients if r.number == number), None)


class ReportState(StrEnum):
    """What a delivery report says about a sent message (sms.delivery applies it)."""

    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    INTERMEDIATE = "intermediate"  # refines `sent`; never undoes a final state


class ProviderError(Exception):
    """The whole call failed; `outcome` says whether retrying, pausing or giving up is right."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


class SmsProvider(Protocol):
    """Something that hands texts to the phone network."""

    name: str

    def send(self, to: Sequence[str], text: str, sender_id: str | None) -> ProviderResult:
        """Send `text` to every number of `to`; raise ProviderError when the call failed."""
