"""The rq queue SMS jobs run on, and the port the service enqueues deliveries through."""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta
from typing import Any, Final, Protocol

import redis
from rq import Queue
from rq.exceptions import DuplicateJobError

SMS_QUEUE: Final = "sms"
DELIVER_JOB: Final = "sms.jobs.deliver"
SWEEP_JOB: Final = "sms.jobs.sweep_tick"

log = logging.getLogger(__name__)


class DeliveryQueue(Protocol):
    """Where message ids wait for a worker."""

    def enqueue(
        self, func: str, *args: Any, delay_seconds: float = 0, job_id: str | None = None
    ) -> None:
        """Run job `func(*args)` on the SMS queue, after `delay_seconds`, once per `job_id`."""


class RqDeliveryQueue:
    """Enqueue SMS jobs on rq; delayed jobs need a worker started with its scheduler."""

    def __init__(self, connection: redis.Redis) -> None:
        self._queue = Queue(SMS_QUEUE, connection=connection)

    def enqueue(
        self, func: str, *args: Any, delay_seconds: float = 0, job_id: str | None = None
    ) -> None:
        """Run job `func(*args)` on the SMS queue, after `delay_seconds`, once per `job_id`."""
        options: dict[str, Any] = {}
        if job_id is not None:
            # While a job with this id waits or runs, a second one is refused; once it has run
            # its record goes at once (result_ttl=0) so the id can be used again.
            options = {"job_id": job_id, "unique": True, "result_ttl": 0, "failure_ttl": 3600}
        try:
            if delay_seconds > 0:
                self._queue.enqueue_in(timedelta(seconds=delay_seconds), func, *args, **options)
            else:
                self._queue.enqueue(func, *args, **options)
        except DuplicateJobError:
            log.info("sms job %s already queued", job_id)


class InlineDeliveryQueue:
    """Run SMS jobs at once in this process (the dev-only Redis emulation has no worker)."""

    def enqueue(
        self, func: str, *args: Any, delay_seconds: float = 0, job_id: str | None = None
    ) -> None:
        """Run job `func(*args)` now; delayed runs are dropped with a log line (dev only)."""
        if delay_seconds > 0:
            log.warning("inline SMS queue: dropping a run delayed by %.0f s", delay_seconds)
            return
        module, _, name = func.rpartition(".")
        getattr(importlib.import_module(module), name)(*args)
