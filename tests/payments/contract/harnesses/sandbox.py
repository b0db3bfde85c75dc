"""The embedded sandbox: outcomes by the amount's last two digits, its callback an rq job."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from payments.model import FailureReason, Intent
from runtime import keys
from tests.payments.conftest import SANDBOX_PHONE, Payments
from tests.payments.contract.harness import AMBIGUOUS, SUCCESS, Harness

AMOUNTS = {
    SUCCESS: 25000,
    "01 cancelled": 25001,
    "02 insufficient funds": 25002,
    "03 no callback, status timeout": 25003,
    "04 wrong PIN": 25004,
    "05 other": 25005,
    AMBIGUOUS: 25006,
}


class SandboxHarness(Harness):
    provider = "sandbox"
    operator = "orange"
    phone = SANDBOX_PHONE
    failures: ClassVar[Mapping[str, FailureReason]] = {
        "01 cancelled": FailureReason.CANCELLED,
        "02 insufficient funds": FailureReason.INSUFFICIENT_FUNDS,
        "03 no callback, status timeout": FailureReason.TIMEOUT,
        "04 wrong PIN": FailureReason.WRONG_PIN,
        "05 other": FailureReason.OTHER,
    }

    def start(self) -> None:
        """The sandbox runs inside the app: nothing to start."""

    def stop(self) -> None:
        """Nothing to stop."""

    def settings(self) -> dict[str, Any]:
        # The customer "answers" when the delayed callback job runs: here, only in answer().
        return {"sandbox_callback_delay_seconds": 3600.0}

    def script(self, outcome: str) -> int:
        return AMOUNTS[outcome]

    def answer(self, payments: Payments, *, deliver: bool = True) -> None:
        for key in payments.redis.scan_iter(keys.key("payments", "sandbox", "pushes", "*")):
            intent = payments.intent(key.decode().rpartition(":")[2])
            if payments.sandbox.answered(intent.id):
                continue  # answered before, or an outcome without a callback
            if deliver:
                payments.sandbox.deliver_callback(intent)  # what the delayed job does
            else:
                payments.sandbox.answer(intent.id)  # answered, callback lost

    def replay(self, payments: Payments, intent: Intent) -> None:
        assert payments.sandbox.deliver_callback(intent) == 200

    def forged(self, intent: Intent, *, succeeded: bool) -> tuple[str, str]:
        body = {
            "intent_id": intent.id,
            "reference": intent.provider_reference,
            "status": "succeeded" if succeeded else "failed",
            "reason": None if succeeded else FailureReason.INSUFFICIENT_FUNDS.value,
            "amount": intent.amount,
            "phone": intent.phone,
            "transaction_id": "SBXFORGED01" if succeeded else None,
        }
        return f"/payments/sandbox/callback/t/{self.token}?intent={intent.id}", json.dumps(body)

    def prompts(self, payments: Payments, intent: Intent) -> int:
        return payments.sandbox.pushes(intent.id)

    def resolve(self, payments: Payments, intent: Intent) -> None:
        payments.sandbox.resolve(intent.id, None)


HARNESS = SandboxHarness
