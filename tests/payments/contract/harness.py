"""What the contract suite needs from one provider: its fake, its settings, its outcomes.

A harness drives the provider's *fake* (the outside world), never our adapter or service: the
suite goes through our real code (USSD-side `start`, push job, callback endpoint, processing
job, reconciliation) exactly as production does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from payments.model import FailureReason, Intent
from tests.payments.conftest import Payments

SUCCESS: Final = "success"
AMBIGUOUS: Final = "ambiguous"
# A success the customer gives after the push request returned: only for a harness whose
# SUCCESS is in `answered_in_push` (for the others SUCCESS is already that).
LATE_SUCCESS: Final = "late success"


class Harness(ABC):
    """One provider under the contract suite (see the suite's docstring for how to add one)."""

    provider: ClassVar[str]  # the adapter's name in PAYMENT_OPERATORS (`mpesa:<provider>`)
    operator: ClassVar[str]  # the operator key the citizen chooses
    phone: ClassVar[str]  # the citizen's E.164 number on this operator
    # Every failure the provider documents, in its own words -> the reason (SMS) we owe.
    failures: ClassVar[Mapping[str, FailureReason]]
    # The currency of the city's assessments the provider charges (the city's menus say it).
    currency: ClassVar[str] = "CDF"
    # Capabilities (the suite's docstring says what each changes):
    # the customer pays on a web page whose link we send by SMS, not on a USSD prompt;
    pays_by_link: ClassVar[bool] = False
    # outcomes (SUCCESS, `failures` keys) the answer to the push request itself ends, with
    # no callback: a push that blocks until the customer has answered (Vodacom's C2B).
    answered_in_push: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, live_url: str, token: str) -> None:
        self.live_url = live_url  # our app, as the provider reaches it
        self.token = token  # PAYMENT_CALLBACK_TOKEN

    @abstractmethod
    def start(self) -> None:
        """Start the provider's fake."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the provider's fake."""

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Return the settings that point the provider at its fake (Settings field names)."""

    @abstractmethod
    def script(self, outcome: str) -> int:
        """Make the next payment end as `outcome` (SUCCESS, AMBIGUOUS, a `failures` key, or
        LATE_SUCCESS when SUCCESS is answered in the push); return the amount to charge."""

    @abstractmethod
    def answer(self, payments: Payments, *, deliver: bool = True) -> None:
        """Let the customer answer every prompt; the provider's callbacks arrive unless lost."""

    @abstractmethod
    def replay(self, payments: Payments, intent: Intent) -> None:
        """Deliver the provider's callback for `intent` once more (providers retry for hours)."""

    @abstractmethod
    def forged(self, intent: Intent, *, succeeded: bool) -> tuple[str, str]:
        """Return (path and query, body) of a callback in the provider's exact shape, with every
        secret it carries, claiming `succeeded`, that the provider itself never sent."""

    @abstractmethod
    def prompts(self, payments: Payments, intent: Intent) -> int:
        """Return how many payment prompts (possible charges) the provider sent for `intent`."""

    @abstractmethod
    def resolve(self, payments: Payments, intent: Intent) -> None:
        """End an AMBIGUOUS payment as a success: the provider's status query now says so."""
