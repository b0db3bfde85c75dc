"""Where a hop's effects go once its session is saved: the job port (rq, or inline in emulation)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from typing import Final

from gateway.queues import QueueNames
from menus.registry import Effect
from runtime.jobs import Jobs

log = logging.getLogger(__name__)

# Transient failures (provider 5xx, timeouts) raise in the job; rq's scheduler retries it.
# Jobs are idempotent by contract, so a retry after a half-done attempt is safe.
DEFAULT_RETRY: Final = (10, 60, 300)
_RQ_JOB_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,100}")


class UnknownQueueError(ValueError):
    """An effect named a queue no worker listens on: it would never run."""


class EffectEnqueuer:
    """Hand effects to the job port (implements menus.registry.Enqueuer)."""

    def __init__(
        self,
        jobs: Jobs,
        *,
        queues: Iterable[str] | None = None,
        retry_intervals: tuple[int, ...] = DEFAULT_RETRY,
    ) -> None:
        self.jobs = jobs
        self._known = frozenset(QueueNames.all() if queues is None else queues)
        self._retry = retry_intervals

    def enqueue(self, effect: Effect) -> None:
        """Queue `effect` (delayed when asked); a second effect with the same job id is dropped."""
        if effect.queue not in self._known:
            raise UnknownQueueError(
                f"no worker listens on queue {effect.queue!r}; add it to QueueNames"
            )
        queued = self.jobs.enqueue(
            effect.queue,
            effect.func,
            *effect.args,
            delay_seconds=effect.delay_seconds,
            job_id=None if effect.job_id is None else rq_job_id(effect.job_id),
            timeout_seconds=effect.timeout_seconds,
            retry_intervals=self._retry,
        )
        if not queued:
            # A retried hop or a double tap asked for work already queued: once is enough.
            log.info("job %s already queued on %s", effect.job_id, effect.queue)


def rq_job_id(job_id: str) -> str:
    """Return `job_id` as rq accepts it (letters, digits, _ and -), stable for a given id."""
    if _RQ_JOB_ID.fullmatch(job_id):
        return job_id
    return "h-" + hashlib.sha256(job_id.encode()).hexdigest()[:40]
