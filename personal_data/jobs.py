"""The retention job: one sweep per RETENTION_SWEEP_SECONDS, started by the worker."""

from __future__ import annotations

from typing import Final

import runtime
from personal_data.retention import RetentionSweeper
from runtime.jobs import Jobs, schedule_periodic

RETENTION_QUEUE: Final = "default"  # gateway.queues.QueueNames.DEFAULT


def retention_tick(interval_seconds: float) -> dict[str, int]:
    """Run one retention sweep, then schedule the next one (one per interval bucket)."""
    services = runtime.current()
    try:
        return services.get(RetentionSweeper).sweep()
    finally:
        schedule_retention(services.get(Jobs), interval_seconds)  # type: ignore[type-abstract]


def schedule_retention(jobs: Jobs, interval_seconds: float, now: float | None = None) -> None:
    """Enqueue the next sweep; every process asking for the same bucket gets one job."""
    schedule_periodic(
        jobs, RETENTION_QUEUE, retention_tick, interval_seconds, key="retention", now=now
    )
