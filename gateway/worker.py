"""The rq worker process: the web app's container, then rq's work loop with its scheduler."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis
from rq import Queue, Worker

from gateway import container as composition
from gateway.config import ConfigError, Settings
from gateway.logsetup import configure_logging
from gateway.queues import QueueNames
from sms.queues import DeliveryQueue
from sms.sweeper import schedule_sweep


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
    """Return a Redis connection for rq's blocking dequeue.

    The web client's short socket timeout would abort rq's BLPOP; rq sets its own.
    """
    return redis.Redis.from_url(settings.redis_url)


def build_worker(settings: Settings, queue_names: Sequence[str]) -> Worker:
    """Build the container every job looks services up in, then an rq worker on `queue_names`."""
    if settings.emulate_redis:
        raise ConfigError("the Redis emulation runs jobs inline: there is no worker to start")
    services = composition.build(settings)
    # The worker starts the periodic SMS sweep (payments' reconciliation starts in its wiring).
    try:
        schedule_sweep(services.get(DeliveryQueue), settings.sms_sweep_seconds)  # type: ignore[type-abstract]
    except redis.RedisError:
        logging.getLogger(__name__).warning("could not schedule the SMS sweep (Redis down)")
    connection = worker_connection(settings)
    queues = [Queue(name, connection=connection) for name in queue_names]
    return Worker(queues, connection=connection)


def run_worker(settings: Settings, queue_names: Sequence[str], *, burst: bool = False) -> bool:
    """Work the queues (until stopped, or until empty with `burst`); True when a job ran."""
    configure_logging(settings)
    worker = build_worker(settings, queue_names)
    # The scheduler moves delayed jobs and rq retries (Retry intervals) back onto the queues.
    return bool(worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level))
