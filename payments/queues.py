"""The payments queue and how payments code enqueues its jobs (through the runtime job port)."""

from __future__ import annotations

import logging
from typing import Any, Final, Protocol

from runtime.jobs import JobFunc, Jobs

PAYMENTS_QUEUE: Final = "payments"
RETRY_INTERVALS: Final = (5, 15, 30, 60)  # seconds before each retry of a failed job

log = logging.getLogger(__name__)


class JobScheduler(Protocol):
    """Enqueue a payments job; jobs take ids only."""

    def enqueue(
        self,
        func: JobFunc | str,
        *args: Any,
        delay_seconds: float = 0,
        job_id: str | None = None,
        retries: int = 0,
        timeout_seconds: float | None = None,
        urgent: bool = False,
    ) -> None:
        """Run `func(*args)` on the payments queue after `delay_seconds`, in `timeout_seconds`;
        an `urgent` job goes before the jobs already waiting."""


class PaymentJobs:
    """Enqueue on the `payments` queue of the job port (rq, or inline in the emulation)."""

    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs

    def enqueue(
        self,
        func: JobFunc | str,
        *args: Any,
        delay_seconds: float = 0,
        job_id: str | None = None,
        retries: int = 0,
        timeout_seconds: float | None = None,
        urgent: bool = False,
    ) -> None:
        """Enqueue `func(*args)`; a job id already queued is not enqueued twice."""
        queued = self.jobs.enqueue(
            PAYMENTS_QUEUE,
            func,
            *args,
            delay_seconds=delay_seconds,
            job_id=job_id,
            timeout_seconds=timeout_seconds,
            retry_intervals=RETRY_INTERVALS[:retries],
            at_front=urgent,
        )
        if not queued:
            log.info("payments job %s already queued", job_id)
