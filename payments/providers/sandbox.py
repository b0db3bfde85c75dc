"""The embedded sandbox provider: no money, deterministic outcomes, a real callback.

The outcome is chosen by the amount's last two digits (see README, "Sandbox outcomes"):
01 cancelled, 02 insufficient funds, 03 no callback (the status query answers timeout, so
reconciliation is exercised), 04 wrong PIN, 05 other failure, 06 ambiguous (no callback, the
status query cannot tell until `resolve`), anything else succeeds.
The push is remembered in Redis (so a status query can tell "never pushed" apart), and an rq
job POSTs the callback to our own endpoint after SANDBOX_CALLBACK_DELAY_SECONDS. Like a real
operator, the status query says "pending" until the customer has answered: when that job
runs (or at once for the outcomes without a callback).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Final

import redis
import requests

from payments.model import FailureReason, Intent
from payments.providers.base import (
    CallbackEvent,
    CallbackParseError,
    PaymentState,
    PushOutcome,
    PushResult,
    StatusResult,
    integral_amount,
)
from payments.queues import JobScheduler
from runtime import keys
from runtime.jobs import JobFunc

NAME: Final = "sandbox"
NO_CALLBACK: Final = 3
AMBIGUOUS: Final = 6
OUTCOMES: Final[Mapping[int, FailureReason]] = {
    1: FailureReason.CANCELLED,
    2: FailureReason.INSUFFICIENT_FUNDS,
    NO_CALLBACK: FailureReason.TIMEOUT,
    4: FailureReason.WRONG_PIN,
    5: FailureReason.OTHER,
}
_PUSH_TTL_SECONDS: Final = 7 * 24 * 3600


def outcome_for(amount: int) -> FailureReason | None:
    """Return the failure the sandbox simulates for `amount`, None for a success."""
    return OUTCOMES.get(amount % 100)


class SandboxProvider:
    """A provider that never moves money and always answers the same way for an amount."""

    name = NAME
    # The currencies of the packs that pay by mobile money (CD: CDF, USD; TG: XOF) and Daraja's.
    currencies = frozenset({"CDF", "USD", "XOF", "KES"})

    def __init__(
        self,
        connection: redis.Redis,
        jobs: JobScheduler,
        callback_url: Callable[[str, str], str],
        callback_delay_seconds: float,
        timeout_seconds: float = 5.0,
        *,
        callback_job: JobFunc,
    ) -> None:
        self._redis = connection
        self._jobs = jobs
        self._callback_job = callback_job  # payments.jobs.sandbox_callback, from the wiring
        self._callback_url = callback_url
        self._delay = callback_delay_seconds
        self._timeout = timeout_seconds

    @staticmethod
    def reference(intent: Intent) -> str:
        """Return the sandbox's reference for an intent."""
        return f"SBX-{intent.id[:16]}"

    def _key(self, intent_id: str) -> str:
        return keys.key("payments", "sandbox", "pushes", intent_id)

    def _resolved_key(self, intent_id: str) -> str:
        return keys.key("payments", "sandbox", "resolved", intent_id)

    def _answered_key(self, intent_id: str) -> str:
        return keys.key("payments", "sandbox", "answered", intent_id)

    def answer(self, intent_id: str) -> None:
        """Record that the customer answered the prompt (the status query now tells)."""
        self._redis.set(self._answered_key(intent_id), 1, ex=_PUSH_TTL_SECONDS)

    def answered(self, intent_id: str) -> bool:
        """Tell whether the customer answered the intent's prompt."""
        return bool(self._redis.exists(self._answered_key(intent_id)))

    def resolve(self, intent_id: str, failure: FailureReason | None) -> None:
        """End an ambiguous (...06) payment: succeeded (None) or failed; queries say so after."""
        value = failure.value if failure else "succeeded"
        self._redis.set(self._resolved_key(intent_id), value, ex=_PUSH_TTL_SECONDS)

    def pushes(self, intent_id: str) -> int:
        """Return how many times the intent was pushed (tests prove there is never a second)."""
        raw = self._redis.get(self._key(intent_id))
        return int(raw) if raw is not None else 0

    def push(self, intent: Intent) -> PushResult:
        """Accept the push and schedule our own callback, unless the amount says not to."""
        pipe = self._redis.pipeline()
        pipe.incr(self._key(intent.id))
        pipe.expire(self._key(intent.id), _PUSH_TTL_SECONDS)
        pipe.execute()
        if intent.amount % 100 in {NO_CALLBACK, AMBIGUOUS}:
            self.answer(intent.id)
        else:
            self._jobs.enqueue(
                self._callback_job,
                intent.id,
                delay_seconds=self._delay,
                job_id=f"payment-sandbox-callback-{intent.id}",
            )
        return PushResult(PushOutcome.ACCEPTED, provider_reference=self.reference(intent))

    def query(self, intent: Intent) -> StatusResult:
        """Answer from the amount table; NOT_FOUND when the intent was never pushed."""
        if not self.pushes(intent.id):
            return StatusResult(PaymentState.NOT_FOUND)
        if not self.answered(intent.id):
            return StatusResult(PaymentState.PENDING)
        if intent.amount % 100 == AMBIGUOUS:
            raw = self._redis.get(self._resolved_key(intent.id))
            if raw is None:
                return StatusResult(PaymentState.UNKNOWN, detail="ambiguous")
            resolved = raw.decode() if isinstance(raw, bytes) else str(raw)
            if resolved != "succeeded":
                return StatusResult(PaymentState.FAILED, reason=FailureReason(resolved))
            return StatusResult(PaymentState.SUCCEEDED, provider_receipt=self.receipt(intent))
        failure = outcome_for(intent.amount)
        if failure is None:
            return StatusResult(PaymentState.SUCCEEDED, provider_receipt=self.receipt(intent))
        return StatusResult(PaymentState.FAILED, reason=failure)

    @staticmethod
    def receipt(intent: Intent) -> str:
        """Return the sandbox's transaction id for an intent."""
        return f"SBX{intent.id[:10].upper()}"

    def callback_body(self, intent: Intent) -> dict[str, object]:
        """Return the JSON the sandbox POSTs to our callback endpoint."""
        failure = outcome_for(intent.amount)
        return {
            "intent_id": intent.id,
            "reference": self.reference(intent),
            "status": "failed" if failure else "succeeded",
            "reason": failure.value if failure else None,
            "amount": intent.amount,
            "phone": intent.phone,
            "transaction_id": None if failure else self.receipt(intent),
        }

    def deliver_callback(self, intent: Intent) -> int:
        """The customer answers; POST the simulated callback to our endpoint; return the status."""
        self.answer(intent.id)
        response = requests.post(
            self._callback_url(self.name, intent.id),
            json=self.callback_body(intent),
            timeout=self._timeout,
        )
        return response.status_code

    def parse_callback(self, body: str, params: Mapping[str, str]) -> CallbackEvent:
        """Parse the sandbox's JSON callback."""
        try:
            data = json.loads(body)
        except ValueError:
            raise CallbackParseError("not JSON") from None
        if not isinstance(data, dict):
            raise CallbackParseError("not a JSON object")
        intent_id, reference, status = (
            data.get("intent_id"),
            data.get("reference"),
            data.get("status"),
        )
        if not isinstance(intent_id, str) or not isinstance(reference, str):
            raise CallbackParseError("intent_id and reference must be strings")
        if status not in {"succeeded", "failed"}:
            raise CallbackParseError("status must be succeeded or failed")
        phone = data.get("phone")
        reason: FailureReason | None = None
        if status == "failed":
            try:
                reason = FailureReason(str(data.get("reason")))
            except ValueError:
                reason = FailureReason.OTHER
        receipt = data.get("transaction_id")
        return CallbackEvent(
            succeeded=status == "succeeded",
            intent_id=intent_id,
            provider_reference=reference,
            reason=reason,
            amount=integral_amount(data.get("amount")),
            phone=phone if isinstance(phone, str) else None,
            provider_receipt=receipt if isinstance(receipt, str) else None,
        )
