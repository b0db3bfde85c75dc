"""What the SMS keyword RECU needs to know about receipts: a port that payments implements.

sms sits below payments (payments sends its receipts through sms), so the inbound router
cannot import payments: it asks the container for a `ReceiptDesk` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ReceiptAnswer:
    """A checked code: `status` valid, unknown or mistyped; `params` fill reply_receipt_valid."""

    status: str
    code: str  # the code as it should be read back (grouped by four)
    params: Mapping[str, str | int] = field(default_factory=dict)


class ReceiptDesk(Protocol):
    """Check receipt codes and find a phone's receipts, in the citizen's language.

    Both raise civic.ports.BackendUnavailableError when the records cannot be read.
    """

    def check(self, code: str, lang: str) -> ReceiptAnswer:
        """Verify `code`; when valid, describe what was paid in `lang`."""

    def latest_codes(self, phone: str, limit: int) -> list[str]:
        """Return the codes of the receipts paid from `phone`, newest first."""
