"""rq jobs of the SMS layer: they take ids only and find their collaborators in the container."""

from __future__ import annotations

import logging
from typing import Final, cast

import redis

import runtime
from runtime.jobs import Jobs, schedule_periodic
from sms.callbacks import AT, CallbackInbox
from sms.delivery import Dispatcher
from sms.inbound import InboundRouter
from sms.queues import SMS_QUEUE, DeliveryQueue, ready_key
from sms.store import text
from sms.sweeper import Sweeper

log = logging.getLogger(__name__)

# A drain job stops taking new messages after this long and hands the rest to a new job: far
# inside rq's default job timeout (180 s) even when each provider call runs to its timeout.
DRAIN_BUDGET_SECONDS: Final = 30.0
# Calls in flight per drain job: they overlap the waits on the provider and on Redis (the
# worker's CPU is then the limit: bench/README.md, SMS pipeline).
DRAIN_THREADS: Final = 2


def deliver(message_id: str) -> str:
    """Hand one queued message to the provider (at most once)."""
    outcome = runtime.current().get(Dispatcher).deliver(message_id)
    log.info("sms %s: deliver -> %s", message_id, outcome)
    return outcome.value


def deliver_ready(limit: int) -> str:
    """Pop up to `limit` new messages from the ready list and deliver each (at most once)."""
    services = runtime.current()
    client = services.get(redis.Redis)
    raw = cast("list[bytes] | None", client.lpop(ready_key(), limit))
    ids = [text(item) for item in raw or []]
    if not ids:
        return "empty"
    outcomes, left = services.get(Dispatcher).deliver_many(
        ids, budget_seconds=DRAIN_BUDGET_SECONDS, threads=DRAIN_THREADS
    )
    if left:
        # Out of time: the rest goes back to the head of the list, with a job to take it.
        client.lpush(ready_key(), *reversed(left))
        services.get(DeliveryQueue).kick()  # type: ignore[type-abstract]
    summary = ", ".join(f"{outcome.value} {count}" for outcome, count in outcomes.items())
    log.info("sms: %d message(s) from the ready list: %s", len(ids) - len(left), summary)
    return summary


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
        payload["id"],
        payload["status"],
        payload.get("failureReason", ""),
        payload.get("provider", AT),
    )


def sweep_tick(interval_seconds: float) -> int:
    """Re-enqueue overdue messages, then schedule the next sweep."""
    services = runtime.current()
    try:
        return services.get(Sweeper).sweep()
    finally:
        schedule_sweep(services.get(Jobs), interval_seconds)  # type: ignore[type-abstract]


def schedule_sweep(jobs: Jobs, interval_seconds: float, now: float | None = None) -> None:
    """Enqueue the next sweep; every process asking for the same time bucket gets one job."""
    schedule_periodic(jobs, SMS_QUEUE, sweep_tick, interval_seconds, key="sms-sweep", now=now)


__all__ = [
    "deliver",
    "deliver_ready",
    "handle_delivery_report",
    "handle_inbound",
    "schedule_sweep",
    "sweep_tick",
]
