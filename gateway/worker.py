"""The rq worker process: the web app's container, then rq's work loop with its scheduler.

Three ways to run jobs (`--worker-class`, measured in bench/README.md, SMS pipeline):
`fork` is rq's default Worker, a forked work horse per job (fresh Redis and HTTP connections
each time); `simple` is rq's SimpleWorker, jobs run in this process; `preload` (the default)
is a SimpleWorker that also imports every job module before the first job. The container is
built once before rq starts in all three.

What running jobs in-process costs: a job that raises fails alone, and a job that hangs is
still stopped by rq's job timeout (SimpleWorker keeps the SIGALRM death penalty), but a job
that kills the process (segfault, OOM kill) takes the worker with it. The process manager
(Procfile platform, `make run`) restarts or reports it; rq fails the abandoned job once its
timeout has passed, and the SMS sweeper settles its message without resending it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import Any

import redis
from rq import Queue, SimpleWorker, Worker
from rq.worker import BaseWorker

from gateway import container as composition
from gateway.config import ConfigError, Settings
from gateway.logsetup import configure_logging
from gateway.queues import QueueNames
from gateway.redis_client import connect, queue_url
from gateway.rq_liveness import (
    MAINTENANCE_SECONDS,
    WORKER_TTL_SECONDS,
    clear_dead_scheduler_locks,
    clear_dead_scheduler_locks_at_start,
)
from runtime import keys
from runtime.jobs import Jobs
from sms.jobs import schedule_sweep


def parse_queues(spec: str) -> list[str]:
    """Return the queue names of a comma-separated list, refusing names nobody enqueues on."""
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if not names:
        raise ConfigError("--queues needs at least one queue name")
    unknown = sorted(set(names) - set(QueueNames.all()))
    if unknown:
        raise ConfigError(
            f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(QueueNames.all())}"
        )
    return names


def worker_connection(settings: Settings) -> redis.Redis:
    """Return a Redis connection for rq's blocking dequeue (QUEUE_REDIS_URL, else REDIS_URL).

    The web client's short socket timeout would abort rq's BLPOP; rq sets its own.
    """
    return connect(queue_url(settings), socket_timeout=None)


# Modules whose functions are enqueued as jobs (a test checks every *_JOB name is covered).
JOB_MODULES = ("sms.jobs", "sms.request_alerts", "payments.jobs")


class RevivesScheduler(BaseWorker):
    """Clear a dead scheduler's lock at each maintenance, so rq's own retry can take it."""

    def run_maintenance_tasks(self) -> None:
        """Clear the locks of dead schedulers, then run rq's maintenance (which takes them)."""
        # A live scheduler (ours or another worker's) refreshes its lock: nothing to clear.
        cleared = clear_dead_scheduler_locks(self.connection, self.queue_names())
        if cleared:
            logging.getLogger(__name__).warning(
                "cleared the dead scheduler's lock of %s", ", ".join(cleared)
            )
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]  # rq leaves it untyped


class GuichetWorker(RevivesScheduler, Worker):
    """rq's Worker (a forked work horse per job) that revives a dead scheduler."""


class GuichetSimpleWorker(RevivesScheduler, SimpleWorker):
    """rq's SimpleWorker (jobs in this process) that revives a dead scheduler."""


class PreloadWorker(GuichetSimpleWorker):
    """Run jobs in this process, every job module imported before the first job."""

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        """Import the job modules, then register the worker as rq does."""
        for module in JOB_MODULES:
            importlib.import_module(module)
        super().bootstrap(*args, **kwargs)


WORKER_CLASSES: dict[str, type[BaseWorker]] = {
    "fork": GuichetWorker,
    "simple": GuichetSimpleWorker,
    "preload": PreloadWorker,
}
DEFAULT_WORKER_CLASS = "preload"


def build_worker(
    settings: Settings, queue_names: Sequence[str], worker_class: str = DEFAULT_WORKER_CLASS
) -> BaseWorker:
    """Build the container every job looks services up in, then an rq worker on `queue_names`."""
    if settings.emulate_redis:
        raise ConfigError("the Redis emulation runs jobs inline: there is no worker to start")
    services = composition.build(settings)
    # The worker starts the periodic SMS sweep (payments' reconciliation starts in its wiring).
    try:
        schedule_sweep(services.get(Jobs), settings.sms_sweep_seconds)  # type: ignore[type-abstract]
    except redis.RedisError:
        logging.getLogger(__name__).warning("could not schedule the SMS sweep (Redis down)")
    connection = worker_connection(settings)
    queues = [Queue(keys.queue(name), connection=connection) for name in queue_names]
    return WORKER_CLASSES[worker_class](
        queues,
        connection=connection,
        worker_ttl=WORKER_TTL_SECONDS,
        maintenance_interval=MAINTENANCE_SECONDS,
    )


def run_worker(
    settings: Settings,
    queue_names: Sequence[str],
    *,
    burst: bool = False,
    worker_class: str = DEFAULT_WORKER_CLASS,
) -> bool:
    """Work the queues (until stopped, or until empty with `burst`); True when a job ran."""
    configure_logging(settings)
    worker = build_worker(settings, queue_names, worker_class)
    _clear_dead_scheduler(worker)
    # The scheduler moves delayed jobs and rq retries (Retry intervals) back onto the queues.
    return bool(worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level))


def _clear_dead_scheduler(worker: BaseWorker) -> None:
    # rq takes the scheduler lock once at start, then retries only at maintenance.
    try:
        cleared = clear_dead_scheduler_locks_at_start(worker.connection, worker.queue_names())
    except redis.RedisError:
        return  # rq's own start reports Redis; maintenance clears the lock later
    if cleared:
        logging.getLogger(__name__).warning(
            "cleared the dead scheduler's lock of %s before starting", ", ".join(cleared)
        )
