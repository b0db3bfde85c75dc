"""The provider port: every mobile-money adapter pushes, answers status queries and parses
its own callbacks into one neutral event. Adding Airtel Money, Orange Money or MTN MoMo is
one class implementing `Provider` plus a line in PAYMENT_OPERATORS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from payments.model import FailureReason, Intent


class PushOutcome(StrEnum):
    """What a push request did, as far as we can tell."""

    ACCEPTED = "accepted"  # the provider will prompt the handset; reference known
    REJECTED = "rejected"  # the provider refused it; nothing will be charged
    NOT_SENT = "not_sent"  # we never reached the provider; pushing again is safe
    UNKNOWN = "unknown"  # the request may have arrived (timeout after sending): never re-push


@dataclass(frozen=True, slots=True)
class PushResult:
    """The answer to a push request."""

    outcome: PushOutcome
    provider_reference: str | None = None
    reason: FailureReason | None = None
    detail: str = ""
    # A synchronous API (Vodacom C2B) answers the push only once the customer has: its own
    # answer to our request says how the payment ended, so no callback is awaited.
    status: StatusResult | None = None
    # Web payments (Orange Money Web Payment): the page where the customer pays; the
    # service sends it by SMS, since no prompt reaches the handset.
    payment_url: str | None = None


class PaymentState(StrEnum):
    """What the provider says about one payment."""

    PENDING = "pending"  # still waiting for the customer / being processed
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NOT_FOUND = "not_found"  # the provider never saw this intent: pushing is safe
    UNKNOWN = "unknown"  # cannot tell (no reference, provider down)


@dataclass(frozen=True, slots=True)
class StatusResult:
    """The answer to a status query."""

    state: PaymentState
    reason: FailureReason | None = None
    provider_receipt: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    """A provider's callback in our terms; amount/phone are None when the provider omits them."""

    succeeded: bool
    intent_id: str | None
    provider_reference: str | None
    reason: FailureReason | None = None
    amount: int | None = None
    phone: str | None = None  # E.164
    provider_receipt: str | None = None


class CallbackParseError(ValueError):
    """The callback body is not something this provider sends."""


class CallbackAuthError(CallbackParseError):
    """The callback's signature does not match: it cannot be shown to come from the provider."""


class Provider(Protocol):
    """One mobile-money API."""

    name: str
    # ISO 4217 codes the API takes amounts in (integers in the currency's unit): a city whose
    # currency a configured provider does not take is a configuration error at start.
    currencies: frozenset[str]

    def push(self, intent: Intent) -> PushResult:
        """Ask the provider to prompt the intent's phone for the amount."""

    def query(self, intent: Intent) -> StatusResult:
        """Ask the provider where the intent's payment stands."""

    def parse_callback(self, body: str, params: Mapping[str, str]) -> CallbackEvent:
        """Turn a callback body (and our URL's query parameters) into an event."""


def refused_currencies(
    providers: Mapping[str, Provider], operators: Mapping[str, str], currency: str
) -> list[str]:
    """Return one line per operator whose provider does not take `currency`."""
    problems: list[str] = []
    for operator, name in operators.items():
        provider = providers.get(name)
        if provider is not None and currency not in provider.currencies:
            accepted = ", ".join(sorted(provider.currencies))
            problems.append(
                f"PAYMENT_OPERATORS: {operator}:{name} takes {accepted}, not the city's {currency}"
            )
    return problems


@runtime_checkable
class PaysByLink(Protocol):
    """A provider whose customers pay on a web page we send by SMS, not on a USSD prompt."""

    pays_by_link: bool


def integral_amount(value: object) -> int | None:
    """Return a callback amount as int when it is a whole number, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None
    return None
