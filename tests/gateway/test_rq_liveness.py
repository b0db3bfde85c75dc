"""A dead scheduler's lock is cleared; a live one's never is (real rq schedulers, real Redis)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import redis
from rq.scheduler import RQScheduler

from gateway.queues import QueueNames
from gateway.rq_liveness import clear_dead_scheduler_locks, scheduler_locks

QUEUES = [QueueNames.PAYMENTS, QueueNames.SMS]
# A scheduler process that takes the locks, registers, and dies without releasing them.
_DIES_HOLDING = """
import sys, redis
from rq.scheduler import RQScheduler
s = RQScheduler(sys.argv[2].split(","), connection=redis.Redis.from_url(sys.argv[1]))
assert s.acquire_locks()
s.register_birth()
print(s.name)
"""


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def _dead_scheduler(redis_url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _DIES_HOLDING, redis_url, ",".join(QUEUES)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1]


def test_a_live_scheduler_keeps_its_lock(connection: redis.Redis) -> None:
    live = RQScheduler(QUEUES, connection=connection)
    assert live.acquire_locks() == set(QUEUES)
    live.register_birth()  # this process: alive, on this host
    try:
        assert clear_dead_scheduler_locks(connection, QUEUES, dead_pid_seconds=0) == []
        assert {lock.holder for lock in scheduler_locks(connection, QUEUES).values()} == {live.name}
    finally:
        live.release_locks()


def test_a_dead_local_scheduler_loses_its_lock(redis_url: str, connection: redis.Redis) -> None:
    holder = _dead_scheduler(redis_url)
    locks = scheduler_locks(connection, QUEUES)
    assert {lock.holder for lock in locks.values()} == {holder}
    # Fresh (refreshed under a second ago): the default grace of a dead pid still applies.
    assert clear_dead_scheduler_locks(connection, QUEUES) == []
    assert sorted(clear_dead_scheduler_locks(connection, QUEUES, dead_pid_seconds=0)) == sorted(
        QUEUES
    )
    assert scheduler_locks(connection, QUEUES) == {}
    # rq's own start now takes them.
    successor = RQScheduler(QUEUES, connection=connection)
    assert successor.acquire_locks() == set(QUEUES)
    successor.release_locks()


def test_a_scheduler_on_another_host_is_judged_by_its_lock_age_only(
    redis_url: str, connection: redis.Redis
) -> None:
    holder = _dead_scheduler(redis_url)
    elsewhere = RQScheduler.fetch(holder, connection)
    elsewhere.hostname = "another-host"  # its pid means nothing here
    elsewhere.save()
    assert clear_dead_scheduler_locks(connection, QUEUES, dead_pid_seconds=0) == []
    # Once unrefreshed for `stale_seconds` (here 0), it is dead wherever it ran.
    assert sorted(clear_dead_scheduler_locks(connection, QUEUES, stale_seconds=0)) == sorted(QUEUES)


def test_a_lock_taken_over_meanwhile_is_left_alone(redis_url: str, connection: redis.Redis) -> None:
    _dead_scheduler(redis_url)
    # Another worker's scheduler took payments over (the dead lock expired): it is live.
    key = RQScheduler.get_locking_key(QueueNames.PAYMENTS)
    connection.delete(key)
    live = RQScheduler([QueueNames.PAYMENTS], connection=connection)
    assert live.acquire_locks() == {QueueNames.PAYMENTS}
    live.register_birth()
    try:
        cleared = clear_dead_scheduler_locks(connection, QUEUES, dead_pid_seconds=0)
        assert cleared == [QueueNames.SMS]
        assert scheduler_locks(connection, QUEUES)[QueueNames.PAYMENTS].holder == live.name
    finally:
        live.release_locks()
