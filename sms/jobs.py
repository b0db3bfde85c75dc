"""rq jobs of the SMS layer: they take ids only and find their collaborators in the container."""

from __future__ import annotations

import logging

import runtime
from sms.callbacks import CallbackInbox
from sms.delivery import Dispatcher
from sms.inbound import InboundRouter
from sms.queues import DeliveryQueue
from sms.sweeper import Sweeper, schedule_sweep

log = logging.getLogger(__name__)


def deliver(message_id: str) -> str:
    """Hand one queued message to the provider (at most once)."""
    outcome = runtime.current().get(Dispatcher).deliver(message_id)
    log.info("sms %s: deliver -> %s", message_id, outcome)
    return outcome.value


def handle_inbound(callback_id: str) -> str:
    """Answer one stored inbound SMS."""
    services = runtime.current()
    payload = services.get(CallbackInbox).load("inbound", callback_id)
    if payload is None:
        return "missing"
    result = services.get(InboundRouter).handle(callback_id, payload["from"], payload["text"])
    return "silent" if result is None else result.status.value


def handle_delivery_report(callback_id: str) -> str:
    """Apply one stored delivery report to its message."""
    services = runtime.current()
    payload = services.get(CallbackInbox).load("delivery", callback_id)
    if payload is None:
        return "missing"
    return services.get(Dispatcher).apply_report(
        payload["id"], payload["status"], payload.get("failureReason", "")
    )


def sweep_tick(interval_seconds: float) -> int:
    """Re-enqueue overdue messages, then schedule the next sweep."""
    services = runtime.current()
    try:
        return services.get(Sweeper).sweep()
    finally:
        schedule_sweep(services.get(DeliveryQueue), interval_seconds)  # type: ignore[type-abstract]


__all__ = ["deliver", "handle_delivery_report", "handle_inbound", "sweep_tick"]
