"""The one job port: run a function on a named queue now or after a delay, once per job id.

Two implementations. `RqJobs` enqueues on rq (delays need a worker started with its scheduler;
`gateway.worker` starts one). `InlineJobs` runs jobs in this process for the Redis emulation
(development, `make run --emulate-redis`), with rq's semantics: a job without a delay runs now,
a delayed job runs once its delay has passed (never before, never dropped), a job id that is
waiting, running or kept (rq keeps a finished job `result_ttl` seconds, 500 by default) refuses
a second job, and a failed job with retry intervals runs again after them. Time comes from a
clock: in development a daemon thread runs due jobs every `tick_seconds`; tests pass their own
clock with `tick_seconds=None` and call `run_due()` themselves, so nothing sleeps.

Jobs are named by reference: pass the function; `job_path` turns it into the dotted path rq
stores, and `resolve_job` turns a path back into the function. A dotted string is accepted
where the caller sits below the job's module (an import there would point up or close a cycle).
"""

from __future__ import annotations

import heapq
import importlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final, Protocol

import redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError

from runtime import keys
from runtime.container import Container

log = logging.getLogger(__name__)

JobFunc = Callable[..., object]
RQ_DEFAULT_RESULT_TTL: Final = 500  # seconds rq keeps a finished job (and so its id)
RQ_DEFAULT_FAILURE_TTL: Final = 365 * 24 * 3600  # and a failed one
_TAKEN_PRUNE_AT: Final = 10_000  # job ids remembered inline before the expired ones go


def job_path(func: JobFunc | str) -> str:
    """Return the dotted path rq stores for a module-level job function (a path is kept)."""
    if isinstance(func, str):
        path = func
    else:
        qualname = getattr(func, "__qualname__", "")
        if not qualname or "<" in qualname or "." in qualname:
            raise ValueError(f"job {func!r} is not a module-level function")
        path = f"{func.__module__}.{qualname}"
    if not path.rpartition(".")[0]:
        raise ValueError(f"job {path!r} is not a dotted path")
    return path


def resolve_job(dotted: str) -> Callable[..., Any]:
    """Import and return the job function named by a dotted path."""
    module_name, _, attr = job_path(dotted).rpartition(".")
    func = getattr(importlib.import_module(module_name), attr)
    if not callable(func):
        raise TypeError(f"job {dotted!r} is not callable")
    return func  # type: ignore[no-any-return]


class Jobs(Protocol):
    """Run jobs on named queues (rq, or inline in the Redis emulation)."""

    def enqueue(
        self,
        queue: str,
        func: JobFunc | str,
        *args: Any,
        delay_seconds: float = 0,
        job_id: str | None = None,
        timeout_seconds: float | None = None,
        retry_intervals: Sequence[int] = (),
        result_ttl: int | None = None,
        failure_ttl: int | None = None,
        at_front: bool = False,
    ) -> bool:
        """Run `func(*args)` on `queue` after `delay_seconds`; False when `job_id` is taken.

        `at_front`: the next free worker takes it before the jobs already waiting on its queue
        (a provider's callback before a backlog of pushes: issue 19, bench/README.md).
        """


@dataclass(frozen=True, slots=True)
class QueueConnection:
    """The Redis rq's queues live on: QUEUE_REDIS_URL, else REDIS_URL (never a cluster)."""

    client: redis.Redis


class RqJobs:
    """Enqueue on rq queues of the shared Redis, named in this installation (runtime.keys).

    Queue names and job ids are the callers' plain ones (`sms`, `sms-sweep-42`); rq sees them
    under the installation's prefix, so two installations on one Redis never take each
    other's jobs nor refuse each other's job ids.
    """

    def __init__(self, connection: redis.Redis) -> None:
        self._connection = connection
        self._queues: dict[str, Queue] = {}

    def enqueue(
        self,
        queue: str,
        func: JobFunc | str,
        *args: Any,
        delay_seconds: float = 0,
        job_id: str | None = None,
        timeout_seconds: float | None = None,
        retry_intervals: Sequence[int] = (),
        result_ttl: int | None = None,
        failure_ttl: int | None = None,
        at_front: bool = False,
    ) -> bool:
        """Enqueue `func(*args)` on rq; False when its unique job id is already there."""
        options: dict[str, Any] = {"args": args}
        if job_id is not None:
            options.update(job_id=keys.job_id(job_id), unique=True)
        if timeout_seconds is not None:
            options["job_timeout"] = timeout_seconds
        if retry_intervals:
            options["retry"] = Retry(max=len(retry_intervals), interval=list(retry_intervals))
        if result_ttl is not None:
            options["result_ttl"] = result_ttl
        if failure_ttl is not None:
            options["failure_ttl"] = failure_ttl
        if at_front and delay_seconds <= 0:
            options["at_front"] = True  # a delayed job is queued at its time, like any other
        return enqueue_once(
            self._queue(queue), job_path(func), delay_seconds=delay_seconds, **options
        )

    def _queue(self, name: str) -> Queue:
        if name not in self._queues:
            self._queues[name] = Queue(keys.queue(name), connection=self._connection)
        return self._queues[name]


def enqueue_once(
    queue: Queue, func: str, *args: Any, delay_seconds: float = 0, **options: Any
) -> bool:
    """Enqueue `func(*args)` with rq `options`; False when its unique job id is already queued."""
    try:
        if delay_seconds > 0:
            queue.enqueue_in(timedelta(seconds=delay_seconds), func, *args, **options)
        else:
            queue.enqueue(func, *args, **options)
    except DuplicateJobError:
        return False
    return True


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    func: str = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)
    job_id: str | None = field(compare=False)
    slow: bool = field(compare=False)
    retries: tuple[int, ...] = field(compare=False)
    keep_seconds: float = field(compare=False)
    keep_failed_seconds: float = field(compare=False)


class InlineJobs:
    """Run jobs in this process with rq's delay and job-id rules (the Redis emulation)."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, tick_seconds: float | None = 1.0
    ) -> None:
        self._clock = clock
        self._tick = tick_seconds
        self._lock = threading.Lock()
        self._due: list[_Due] = []
        self._taken: dict[str, float] = {}  # job id -> until when a second one is refused
        self._seq = itertools.count()
        self._ticker: threading.Thread | None = None
        self.threads: list[threading.Thread] = []  # the slow jobs' (tests join them)

    def enqueue(
        self,
        queue: str,
        func: JobFunc | str,
        *args: Any,
        delay_seconds: float = 0,
        job_id: str | None = None,
        timeout_seconds: float | None = None,
        retry_intervals: Sequence[int] = (),
        result_ttl: int | None = None,
        failure_ttl: int | None = None,
        at_front: bool = False,  # ignored: a job without a delay runs at once here
    ) -> bool:
        """Run `func(*args)` now or once its delay has passed; False when `job_id` is taken."""
        now = self._clock()
        due = _Due(
            at=now + max(delay_seconds, 0.0),
            seq=next(self._seq),
            func=job_path(func),
            args=args,
            job_id=job_id,
            slow=timeout_seconds is not None,
            retries=tuple(retry_intervals),
            keep_seconds=RQ_DEFAULT_RESULT_TTL if result_ttl is None else max(result_ttl, 0),
            keep_failed_seconds=RQ_DEFAULT_FAILURE_TTL if failure_ttl is None else failure_ttl,
        )
        with self._lock:
            if job_id is not None:
                if self._taken.get(job_id, -1.0) > now:
                    return False
                self._taken[job_id] = float("inf")  # while it waits or runs
            if delay_seconds > 0:
                heapq.heappush(self._due, due)
                self._start_ticker()
                return True
        self._start(due)
        return True

    def run_due(self) -> int:
        """Run every job whose time has come; return how many started."""
        started = 0
        while True:
            with self._lock:
                if not self._due or self._due[0].at > self._clock():
                    return started
                due = heapq.heappop(self._due)
            self._start(due)
            started += 1

    def _start(self, due: _Due) -> None:
        if due.slow:
            # A job that says it may be slow (a push waiting for the customer's PIN) must not
            # hold its caller (the citizen's hop): it runs beside it, as a worker would.
            thread = threading.Thread(target=self._run, args=(due,), daemon=True)
            self.threads.append(thread)
            thread.start()
            return
        self._run(due)

    def _run(self, due: _Due) -> None:
        try:
            resolve_job(due.func)(*due.args)
        except Exception:
            # A failing job must not turn its caller into an error (as with a worker).
            log.exception("inline job %s failed", due.func)
            if due.retries:
                with self._lock:
                    retry = _Due(
                        at=self._clock() + due.retries[0],
                        seq=next(self._seq),
                        func=due.func,
                        args=due.args,
                        job_id=due.job_id,
                        slow=due.slow,
                        retries=due.retries[1:],
                        keep_seconds=due.keep_seconds,
                        keep_failed_seconds=due.keep_failed_seconds,
                    )
                    heapq.heappush(self._due, retry)
                    self._start_ticker()
                return
            self._release(due.job_id, due.keep_failed_seconds)
            return
        self._release(due.job_id, due.keep_seconds)

    def _release(self, job_id: str | None, keep_seconds: float) -> None:
        if job_id is not None:
            with self._lock:
                now = self._clock()
                self._taken[job_id] = now + keep_seconds
                if len(self._taken) > _TAKEN_PRUNE_AT:  # a long development session
                    self._taken = {key: end for key, end in self._taken.items() if end > now}

    def _start_ticker(self) -> None:
        # Called under the lock. One daemon thread per process; tests tick themselves.
        if self._tick is None or self._ticker is not None:
            return
        self._ticker = threading.Thread(target=self._tick_forever, daemon=True, name="inline-jobs")
        self._ticker.start()

    def _tick_forever(self) -> None:
        assert self._tick is not None
        while True:
            time.sleep(self._tick)
            self.run_due()


def schedule_periodic(
    jobs: Jobs,
    queue: str,
    func: JobFunc | str,
    interval_seconds: float,
    *,
    key: str,
    now: float | None = None,
) -> None:
    """Enqueue the next tick of a periodic job; every process asking for one time bucket gets one.

    The tick job calls this again when it has run: the chain survives restarts because the job
    id (`key`-bucket) is the same for every process and a second enqueue is refused.
    """
    if interval_seconds <= 0:
        return
    now = time.time() if now is None else now
    bucket = int(now // interval_seconds) + 1
    jobs.enqueue(
        queue,
        func,
        interval_seconds,
        delay_seconds=max(bucket * interval_seconds - now, 1.0),
        job_id=f"{key}-{bucket}",
    )


def jobs_for(container: Container, *, inline: bool) -> Jobs:
    """Return the process's job port, building and registering it on first use."""
    jobs: Jobs | None = container.find(Jobs)  # type: ignore[type-abstract]
    if jobs is None:
        if inline:
            jobs = InlineJobs()
        else:
            queues = container.find(QueueConnection)
            jobs = RqJobs(queues.client if queues else container.get(redis.Redis))
        # Jobs is a Protocol: mypy refuses abstract types as keys, the container does not.
        container.register(Jobs, jobs)  # type: ignore[type-abstract]
    return jobs
