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
import time
from collections.abc import Sequence
from typing import Any

import redis
from rq import Queue, SimpleWorker, Worker
from rq.exceptions import StopRequested
from rq.worker import BaseWorker

import runtime
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
from payments.jobs import schedule_reconcile
from payments.service import PaymentService
from personal_data.jobs import schedule_retention
from runtime import keys
from runtime.jobs import Jobs
from sms.appointment_alerts import schedule_reminders
from sms.jobs import schedule_sweep
from sms.request_alerts import schedule_owed_alerts


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
JOB_MODULES = ("sms.jobs", "sms.request_alerts", "payments.jobs", "personal_data.jobs")


def schedule_periodic_jobs(services: runtime.Container) -> None:
    """Enqueue the next tick of each periodic job (SMS sweep, owed alerts, retention, ...).

    Each tick schedules the next, so the chain lives in Redis: a Redis that came back empty
    has lost it. Every worker calls this at start and at each maintenance (15 s); the job id
    of a time bucket is the same for every process, so a waiting tick refuses a second one.
    """
    settings = services.get(Settings)
    jobs = services.get(Jobs)  # type: ignore[type-abstract]
    schedule_sweep(jobs, settings.sms_sweep_seconds)
    schedule_owed_alerts(jobs, settings.sms_sweep_seconds)
    schedule_retention(jobs, settings.retention_sweep_seconds)
    schedule_reminders(jobs, settings.appointment_reminder_sweep_seconds)
    if services.find(PaymentService) is not None:
        schedule_reconcile(jobs, settings.payment_reconcile_interval_seconds)


class RevivesScheduler(BaseWorker):
    """Clear a dead scheduler's lock at each maintenance, so rq's own retry can take it."""

    def run_maintenance_tasks(self) -> None:
        """Clear dead schedulers' locks, re-create missing periodic jobs, run rq's maintenance."""
        log = logging.getLogger(__name__)
        # A live scheduler (ours or another worker's) refreshes its lock: nothing to clear.
        try:
            cleared = clear_dead_scheduler_locks(self.connection, self.queue_names())
        except (redis.RedisError, KeyError):
            # KeyError: after Redis came back empty a live scheduler's heartbeat re-creates its
            # hash without the fields rq's fetch reads; this maintenance must still go on.
            log.warning("could not look for dead schedulers' locks", exc_info=True)
            cleared = []
        if cleared:
            log.warning("cleared the dead scheduler's lock of %s", ", ".join(cleared))
        try:
            schedule_periodic_jobs(runtime.current())
        except redis.RedisError:
            log.warning("could not re-create the periodic jobs (Redis)")
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
    # The worker starts the periodic jobs; its maintenance re-creates them when Redis lost them.
    try:
        schedule_periodic_jobs(services)
    except redis.RedisError:
        logging.getLogger(__name__).warning("could not schedule the periodic jobs (Redis down)")
    return rq_worker(settings, queue_names, worker_class)


def rq_worker(
    settings: Settings, queue_names: Sequence[str], worker_class: str = DEFAULT_WORKER_CLASS
) -> BaseWorker:
    """Return an rq worker on `queue_names` (the container is built already)."""
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
    """Work the queues (until stopped, or until empty with `burst`); True when a job ran.

    rq ends its work loop on any error it did not expect, and a Redis that goes away while a
    job finishes is one ("found an unhandled exception, quitting"). Without a restart nothing
    would run again, so the loop starts again in this process (a new rq worker, the same
    container) once Redis answers; only a stop request or `burst` ends it.
    """
    configure_logging(settings)
    log = logging.getLogger(__name__)
    worker = build_worker(settings, queue_names, worker_class)
    worked = False
    while True:
        _clear_dead_scheduler(worker)
        # The scheduler moves delayed jobs and rq retries (Retry intervals) back onto the queues.
        try:
            worked |= bool(
                worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
            )
        except redis.RedisError:
            log.warning("rq's work loop ended on a Redis error (its teardown could not run)")
        if burst or _stop_asked(worker):
            return worked
        log.warning("rq's work loop ended unexpectedly: starting it again once Redis answers")
        if not _wait_for_redis(worker.connection):
            return worked
        worker = rq_worker(settings, queue_names, worker_class)


def _stop_asked(worker: BaseWorker) -> bool:
    """Tell whether the loop ended on SIGTERM/SIGINT (rq keeps no public flag for it)."""
    return worker._stop_requested or worker._shutdown_requested_date is not None


def _wait_for_redis(connection: redis.Redis) -> bool:
    """Wait until Redis answers a PING; False when a stop was requested meanwhile."""
    while True:
        try:
            time.sleep(1.0)
            connection.ping()
            return True
        except redis.RedisError:
            continue
        except StopRequested:
            return False


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
