"""The rq queue SMS jobs run on, and the port the service enqueues deliveries through."""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta
from typing import Final, Protocol

import redis
from rq import Queue

SMS_QUEUE: Final = "sms"
DELIVER_JOB: Final = "sms.jobs.deliver"

log = logging.getLogger(__name__)


class DeliveryQueue(Protocol):
    """Where message ids wait for a worker."""

    def enqueue(self, func: str, *args: str, delay_seconds: float = 0) -> None:
        """Run job `func(*args)` on the SMS queue, after `delay_seconds`."""


class RqDeliveryQueue:
    """Enqueue SMS jobs on rq; delayed jobs need a worker started with its scheduler."""

    def __init__(self, connection: redis.Redis) -> None:
        self._queue = Queue(SMS_QUEUE, connection=connection)

    def enqueue(self, func: str, *args: str, delay_seconds: float = 0) -> None:
        """Run job `func(*args)` on the SMS queue, after `delay_seconds`."""
        if delay_seconds > 0:
            self._queue.enqueue_in(timedelta(seconds=delay_seconds), func, *args)
        else:
            self._queue.enqueue(func, *args)


class InlineDeliveryQueue:
    """Run SMS jobs at once in this process (the dev-only Redis emulation has no worker)."""

    def enqueue(self, func: str, *args: str, delay_seconds: float = 0) -> None:
        """Run job `func(*args)` now; delayed runs are dropped with a log line (dev only)."""
        if delay_seconds > 0:
            log.warning("inline SMS queue: dropping a run delayed by %.0f s", delay_seconds)
            return
        module, _, name = func.rpartition(".")
        getattr(importlib.import_module(module), name)(*args)
