"""rq jobs of the payments queue; each takes ids and looks its services up in the container."""

from __future__ import annotations

import logging

import runtime
from payments.providers.sandbox import SandboxProvider
from payments.queues import PAYMENTS_QUEUE
from payments.service import PaymentService
from runtime.jobs import Jobs, schedule_periodic

log = logging.getLogger(__name__)


def _service() -> PaymentService:
    return runtime.current().get(PaymentService)


def push_intent(intent_id: str) -> None:
    """Send an intent's push request (at most once; see PaymentService.push)."""
    _service().push(intent_id)


def process_callback(callback_id: int) -> str:
    """Apply one stored provider callback."""
    return _service().process_callback(callback_id)


def settle(intent_id: str) -> None:
    """Record a succeeded intent with the back office and send its receipt."""
    _service().settle(intent_id)


def sandbox_callback(intent_id: str) -> int:
    """POST the sandbox's simulated callback for an intent to our own endpoint."""
    service = _service()
    intent = service.store.intents.get(intent_id)
    provider = service.providers.get("sandbox")
    if intent is None or not isinstance(provider, SandboxProvider):
        log.warning("sandbox callback for unknown intent %s", intent_id)
        return 0
    return provider.deliver_callback(intent)


def reconcile() -> dict[str, int]:
    """Run one reconciliation pass and return its counts."""
    return _service().reconcile().counts


def reconcile_tick(interval_seconds: float) -> dict[str, int]:
    """Run a reconciliation pass, then schedule the next one (one per interval bucket)."""
    try:
        return reconcile()
    finally:
        schedule_reconcile(runtime.current().get(Jobs), interval_seconds)  # type: ignore[type-abstract]


def schedule_reconcile(jobs: Jobs, interval_seconds: float, now: float | None = None) -> None:
    """Enqueue the next periodic pass; every process asking for the same bucket gets one job."""
    schedule_periodic(
        jobs, PAYMENTS_QUEUE, reconcile_tick, interval_seconds, key="payments-reconcile", now=now
    )
