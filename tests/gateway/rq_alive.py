"""What a running `python -m gateway worker` records in Redis, written by rq's own code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from rq import Queue, SimpleWorker
from rq.scheduler import RQScheduler

from gateway.queues import QueueNames
from gateway.rq_liveness import WORKER_TTL_SECONDS
from runtime import keys


@contextmanager
def rq_alive(url: str, queues: list[str] | None = None) -> Iterator[RQScheduler]:
    """Register a worker and its scheduler (locks and hash) on `queues`, as rq does at start."""
    plain = queues if queues is not None else QueueNames.all()
    names = [keys.queue(name) for name in plain]  # rq's names: the installation's prefix
    # Its own connection: rq raises the socket timeout of the connection a worker is given.
    connection = redis.Redis.from_url(url)
    worker = SimpleWorker(
        [Queue(name, connection=connection) for name in names],
        connection=connection,
        worker_ttl=WORKER_TTL_SECONDS,
    )
    worker.register_birth()
    scheduler = RQScheduler(names, connection=connection)
    assert scheduler.acquire_locks() == set(names)
    scheduler.register_birth()
    try:
        yield scheduler
    finally:
        scheduler.release_locks()
        scheduler.register_death()
        worker.register_death()
        connection.close()
