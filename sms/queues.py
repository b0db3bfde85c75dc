"""The rq queue SMS jobs run on, and the port the service enqueues deliveries through.

New messages do not get one rq job each: rq's own bookkeeping costs ~18 Redis round trips per
job, more than sending an SMS (bench/README.md, SMS pipeline). Their ids go on a ready list and
one drain job is enqueued for every DRAIN_BATCH ids pushed (when the push makes the list's
length 1, K+1, 2K+1...), so every id always has a drain job ahead of it that will pop it, and
several workers drain in parallel under load while a lone message still gets its own job at
once. A process that dies between the push and the enqueue leaves ids without a job: the
sweeper enqueues a drain job whenever the list is not empty, and re-enqueues overdue messages.
Retries, holds and the sweeper's re-runs keep one deliver job per message.
"""

from __future__ import annotations

import logging
from typing import Any, Final, Protocol

import redis

from runtime import keys
from runtime.jobs import JobFunc, Jobs

SMS_QUEUE: Final = "sms"
DRAIN_BATCH: Final = 50  # ids one drain job pops at most

log = logging.getLogger(__name__)


def ready_key() -> str:
    """Return the list of new message ids, oldest first."""
    return keys.key("sms", "ready")


class DeliveryQueue(Protocol):
    """Where message ids wait for a worker."""

    def enqueue(
        self, func: JobFunc | str, *args: Any, delay_seconds: float = 0, job_id: str | None = None
    ) -> None:
        """Run job `func(*args)` on the SMS queue, after `delay_seconds`, once per `job_id`."""

    def deliver(self, message_id: str) -> None:
        """Hand a new message to a worker as soon as one is free."""

    def redeliver(
        self, message_id: str, *, delay_seconds: float = 0, job_id: str | None = None
    ) -> None:
        """Run the deliver job of one message after `delay_seconds` (retry, hold, sweep)."""

    def kick(self) -> None:
        """Make sure ids waiting for a worker have a job that will take them."""


class _SmsJobs:
    """Enqueue SMS jobs through the job port (rq, or inline in the emulation).

    The job functions come from sms.wiring (sms.jobs imports this module): `deliver` takes a
    message id, `drain` a batch size.
    """

    def __init__(self, jobs: Jobs, *, deliver: JobFunc, drain: JobFunc) -> None:
        self.jobs = jobs
        self._deliver_job = deliver
        self._drain_job = drain

    def enqueue(
        self, func: JobFunc | str, *args: Any, delay_seconds: float = 0, job_id: str | None = None
    ) -> None:
        """Run job `func(*args)` on the SMS queue, after `delay_seconds`, once per `job_id`."""
        options: dict[str, Any] = {}
        if job_id is not None:
            # While a job with this id waits or runs, a second one is refused; once it has run
            # its record goes at once (result_ttl=0) so the id can be used again.
            options = {"job_id": job_id, "result_ttl": 0, "failure_ttl": 3600}
        if not self.jobs.enqueue(SMS_QUEUE, func, *args, delay_seconds=delay_seconds, **options):
            log.info("sms job %s already queued", job_id)

    def redeliver(
        self, message_id: str, *, delay_seconds: float = 0, job_id: str | None = None
    ) -> None:
        """Run the deliver job of one message after `delay_seconds`, once per `job_id`."""
        self.enqueue(self._deliver_job, message_id, delay_seconds=delay_seconds, job_id=job_id)


class RqDeliveryQueue(_SmsJobs):
    """Batch new messages on the ready list, drained by jobs (needs a worker)."""

    def __init__(
        self,
        jobs: Jobs,
        connection: redis.Redis,
        *,
        deliver: JobFunc,
        drain: JobFunc,
        batch: int = DRAIN_BATCH,
    ) -> None:
        super().__init__(jobs, deliver=deliver, drain=drain)
        self._redis = connection
        self._batch = batch

    def deliver(self, message_id: str) -> None:
        """Push the id on the ready list; enqueue a drain job for every `batch` ids pushed."""
        length = int(self._redis.rpush(ready_key(), message_id))
        if (length - 1) % self._batch == 0:
            self._drain()

    def kick(self) -> None:
        """Enqueue a drain job when ids wait on the ready list (a lost push-then-enqueue)."""
        if int(self._redis.llen(ready_key())):
            self._drain()

    def _drain(self) -> None:
        # No result kept: nobody reads it, and storing it is one more write per job.
        self.jobs.enqueue(SMS_QUEUE, self._drain_job, self._batch, result_ttl=0)


class InlineDeliveryQueue(_SmsJobs):
    """Deliver each new message at once (the Redis emulation: jobs run in this process)."""

    def deliver(self, message_id: str) -> None:
        """Run the deliver job now."""
        self.redeliver(message_id)

    def kick(self) -> None:
        """Nothing waits: every message was delivered inline."""
