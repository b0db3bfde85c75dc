"""Where a hop's effects go once its session is saved: rq queues, or inline in emulation."""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, Final

import redis
from rq import Queue, Retry

from gateway.queues import QueueNames
from menus.registry import Effect
from runtime.jobs import enqueue_once

log = logging.getLogger(__name__)

# Transient failures (provider 5xx, timeouts) raise in the job; rq's scheduler retries it.
# Jobs are idempotent by contract, so a retry after a half-done attempt is safe.
DEFAULT_RETRY: Final = Retry(max=3, interval=[10, 60, 300])
_RQ_JOB_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,100}")


class UnknownQueueError(ValueError):
    """An effect named a queue no worker listens on: it would never run."""


class RqEnqueuer:
    """Enqueue effects as rq jobs on the shared Redis (implements menus.registry.Enqueuer)."""

    def __init__(
        self,
        connection: redis.Redis,
        *,
        queues: Iterable[str] | None = None,
        retry: Retry | None = DEFAULT_RETRY,
    ) -> None:
        self._connection = connection
        self._known = frozenset(QueueNames.all() if queues is None else queues)
        self._queues: dict[str, Queue] = {}
        self._retry = retry

    def enqueue(self, effect: Effect) -> None:
        """Queue `effect` (delayed when asked); a second effect with the same job id is dropped."""
        queue = self._queue(effect.queue)
        options: dict[str, Any] = {"args": tuple(effect.args), "retry": self._retry}
        if effect.job_id is not None:
            options.update(job_id=rq_job_id(effect.job_id), unique=True)
        if effect.timeout_seconds is not None:
            options["job_timeout"] = effect.timeout_seconds
        if not enqueue_once(queue, effect.func, delay_seconds=effect.delay_seconds, **options):
            # A retried hop or a double tap asked for work already queued: once is enough.
            log.info("job %s already queued on %s", effect.job_id, effect.queue)

    def _queue(self, name: str) -> Queue:
        if name not in self._known:
            raise UnknownQueueError(f"no worker listens on queue {name!r}; add it to QueueNames")
        if name not in self._queues:
            self._queues[name] = Queue(name, connection=self._connection)
        return self._queues[name]


class InlineEnqueuer:
    """Run each effect's job function at once, in this process (the Redis emulation)."""

    def __init__(self) -> None:
        self._done: set[str] = set()
        self.threads: list[threading.Thread] = []  # the slow effects' (tests join them)

    def enqueue(self, effect: Effect) -> None:
        """Run `effect` now, ignoring its delay; a job id already run is not run again."""
        if effect.job_id is not None:
            if effect.job_id in self._done:
                return
            self._done.add(effect.job_id)
        func = resolve_job(effect.func)
        if effect.timeout_seconds is not None:
            # A job that says it may be slow (a push waiting for the customer's PIN) must not
            # hold the citizen's hop: it runs beside it, as a worker would.
            thread = threading.Thread(target=self._run, args=(effect, func), daemon=True)
            self.threads.append(thread)
            thread.start()
            return
        self._run(effect, func)

    @staticmethod
    def _run(effect: Effect, func: Callable[..., object]) -> None:
        try:
            func(*effect.args)
        except Exception:
            # A job failing must not turn the citizen's hop into an error (as with a worker).
            log.exception("inline job %s failed", effect.func)


def rq_job_id(job_id: str) -> str:
    """Return `job_id` as rq accepts it (letters, digits, _ and -), stable for a given id."""
    if _RQ_JOB_ID.fullmatch(job_id):
        return job_id
    return "h-" + hashlib.sha256(job_id.encode()).hexdigest()[:40]


def resolve_job(dotted: str) -> Callable[..., Any]:
    """Import and return the job function named by a dotted path."""
    module_name, _, attr = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"job {dotted!r} is not a dotted path")
    func = getattr(importlib.import_module(module_name), attr)
    if not callable(func):
        raise TypeError(f"job {dotted!r} is not callable")
    return func  # type: ignore[no-any-return]
