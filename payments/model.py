"""Payment intents: what we asked a citizen to pay, and where that request stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final


class IntentStatus(StrEnum):
    """An intent's life: pending -> pushing -> pushed -> succeeded | failed | expired."""

    PENDING = "pending"  # persisted, push job not yet run
    PUSHING = "pushing"  # a push job claimed it; the provider may or may not have it
    PUSHED = "pushed"  # the provider accepted the push request
    SUCCEEDED = "succeeded"  # money taken (settled_at says whether it is recorded)
    FAILED = "failed"
    EXPIRED = "expired"


ACTIVE: Final = frozenset({IntentStatus.PENDING, IntentStatus.PUSHING, IntentStatus.PUSHED})


class PaymentKind(StrEnum):
    """What a payment pays for; each kind settles with the back office in its own way.

    An intent's `subject_id` / `subject_reference` / `item_code` name the thing paid: for a
    tax assessment the assessment id, its reference and the tax code; for a request fee
    `request:<ref>`, the request reference and the document code; for a payable (school
    fees, a licence renewal: civic.ports.Payable) `payable:<id>`, its reference and its id.
    """

    TAX_ASSESSMENT = "tax_assessment"
    REQUEST_FEE = "request_fee"
    PAYABLE = "payable"


class FailureReason(StrEnum):
    """Why a payment did not go through; each has an SMS template payment_failed_<reason>."""

    CANCELLED = "cancelled"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    TIMEOUT = "timeout"
    WRONG_PIN = "wrong_pin"
    INVALID_NUMBER = "invalid_number"  # the number has no wallet with this operator
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Intent:
    """One request to charge a phone for one thing (an assessment, a request's fee, ...).

    The `assessment_*` and `tax_code` names predate kinds: they hold the subject id, the
    subject's reference and the item code of any kind (PaymentKind's docstring).
    """

    id: str
    idempotency_key: str
    session_id: str
    assessment_id: str
    assessment_reference: str
    tax_code: str
    amount: int
    currency: str
    phone: str
    operator: str
    provider: str
    lang: str
    status: IntentStatus
    reason: FailureReason | None
    provider_reference: str | None
    provider_receipt: str | None
    push_attempts: int
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime
    settled_at: datetime | None
    settlement: str | None
    receipt_code: str | None
    kind: PaymentKind = PaymentKind.TAX_ASSESSMENT

    @property
    def active(self) -> bool:
        """Tell whether the intent may still change without a provider's word."""
        return self.status in ACTIVE
