"""The payments queue and how payments code enqueues its jobs (rq, or inline in dev)."""

from __future__ import annotations

import logging
import threading
from typing import Any, Final, Protocol

import redis
from rq import Queue, Retry

from runtime.jobs import enqueue_once

PAYMENTS_QUEUE: Final = "payments"

log = logging.getLogger(__name__)


class JobScheduler(Protocol):
    """Enqueue a payments job by dotted path; jobs take ids only."""

    def enqueue(
        self,
        func: str,
        *args: Any,
        delay_seconds: float = 0,
        job_id: str | None = None,
        retries: int = 0,
        timeout_seconds: float | None = None,
    ) -> None:
        """Run `func(*args)` on the payments queue after `delay_seconds`, in `timeout_seconds`."""


class RqJobs:
    """Enqueue on the rq `payments` queue (delays need the worker's scheduler)."""

    def __init__(self, connection: redis.Redis) -> None:
        self._queue = Queue(PAYMENTS_QUEUE, connection=connection)

    def enqueue(
        self,
        func: str,
        *args: Any,
        delay_seconds: float = 0,
        job_id: str | None = None,
        retries: int = 0,
        timeout_seconds: float | None = None,
    ) -> None:
        """Enqueue `func(*args)`; a job id already queued is not enqueued twice."""
        options: dict[str, Any] = {"job_id": job_id, "unique": job_id is not None}
        if timeout_seconds is not None:
            options["job_timeout"] = timeout_seconds
        if retries:
            options["retry"] = Retry(max=retries, interval=[5, 15, 30, 60][:retries])
        if not enqueue_once(self._queue, func, *args, delay_seconds=delay_seconds, **options):
            log.info("payments job %s already queued", job_id)


class InlineJobs:
    """Run jobs in this process on a timer thread (GUICHET_EMULATE_REDIS: no worker)."""

    def enqueue(
        self,
        func: str,
        *args: Any,
        delay_seconds: float = 0,
        job_id: str | None = None,
        retries: int = 0,
        timeout_seconds: float | None = None,
    ) -> None:
        """Call `func(*args)` after `delay_seconds` on a daemon thread."""
        module_name, _, name = func.rpartition(".")

        def run() -> None:
            import importlib  # noqa: PLC0415 - resolved when the timer fires

            try:
                getattr(importlib.import_module(module_name), name)(*args)
            except Exception:
                log.exception("inline payments job %s failed", func)

        timer = threading.Timer(max(delay_seconds, 0.0), run)
        timer.daemon = True
        timer.start()
