"""Which rq workers and schedulers are alive, from what rq records in Redis; dead locks cleared.

rq's scheduler holds `rq:scheduler-lock:<queue>` (its name as value, TTL 61 s) and refreshes
it every second together with its hash `rq:scheduler:<name>` (hostname, pid). A SIGKILLed
scheduler leaves its lock behind for up to 61 s, and a worker that starts meanwhile runs no
scheduler until rq's maintenance tries the lock again: every 10 minutes by default, looked at
only between idle waits of 405 s, so ~13.5 minutes with no delayed job, retry or sweep.

So a Guichet worker clears, before it starts and at each maintenance, the lock of a scheduler
that stopped refreshing it: a lock unrefreshed for `STALE_SECONDS` (ten missed beats), or for
`DEAD_PID_SECONDS` when its holder ran on this host under a pid that no longer exists. The
delete is atomic and conditional (same holder, still that stale): a live scheduler that
refreshes its lock in between keeps it. Lock ages come from Redis (PTTL), never from clocks
of different hosts.

A worker is alive while rq keeps its key (`rq:worker:<name>`): rq expires it `worker_ttl` +
60 s after its last heartbeat (`WORKER_TTL_SECONDS`: a heartbeat every 5 s while idle).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import redis
from rq.exceptions import SchedulerNotFound
from rq.scheduler import RQScheduler
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

# rq's scheduler refreshes its lock every `interval` (1 s) with a TTL of interval + 60.
LOCK_TTL_SECONDS: Final = 61
STALE_SECONDS: Final = 10.0
DEAD_PID_SECONDS: Final = 2.0
# Our workers' rq `worker_ttl`: idle, they wake and heartbeat every worker_ttl - 15 = 5 s.
WORKER_TTL_SECONDS: Final = 20
# How often a worker runs rq's maintenance (registries, a stopped scheduler restarted).
MAINTENANCE_SECONDS: Final = 15

# Delete the lock only if it still names `holder` and is still at least that stale.
_CLEAR_IF_STALE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('PTTL', KEYS[1]) <= tonumber(ARGV[2]) then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class SchedulerLock:
    """One queue's scheduler lock: who holds it and how long since it was refreshed."""

    queue: str
    holder: str
    age_seconds: float


def scheduler_locks(connection: redis.Redis, queues: Sequence[str]) -> dict[str, SchedulerLock]:
    """Return the scheduler lock of each queue that has one (two commands per queue)."""
    pipe = connection.pipeline(transaction=False)
    for queue in queues:
        key = RQScheduler.get_locking_key(queue)
        pipe.get(key)
        pipe.pttl(key)
    replies = pipe.execute()
    locks = {}
    for index, queue in enumerate(queues):
        holder, pttl = replies[2 * index], replies[2 * index + 1]
        if holder is not None and pttl is not None and pttl >= 0:
            age = max(0.0, LOCK_TTL_SECONDS - pttl / 1000)
            locks[queue] = SchedulerLock(queue, _text(holder), age)
    return locks


def queues_without_scheduler(connection: redis.Redis, queues: Sequence[str]) -> list[str]:
    """Return the queues no live scheduler holds (no lock, or a lock nobody refreshes)."""
    locks = scheduler_locks(connection, queues)
    return [q for q in queues if q not in locks or locks[q].age_seconds >= STALE_SECONDS]


def queues_without_worker(connection: redis.Redis, queues: Sequence[str]) -> list[str]:
    """Return the queues no live rq worker listens on."""
    pipe = connection.pipeline(transaction=False)
    for queue in queues:
        pipe.smembers(WORKERS_BY_QUEUE_KEY % queue)
    registered = [sorted(_text(key) for key in keys) for keys in pipe.execute()]
    # A SIGKILLed worker stays registered; its key, refreshed by each heartbeat, expires.
    for keys in registered:
        for key in keys:
            pipe.exists(key)
    alive = iter(pipe.execute())
    counts = [sum(next(alive) for _ in keys) for keys in registered]
    return [queue for queue, count in zip(queues, counts, strict=True) if count == 0]


def clear_dead_scheduler_locks(
    connection: redis.Redis,
    queues: Sequence[str],
    *,
    stale_seconds: float = STALE_SECONDS,
    dead_pid_seconds: float = DEAD_PID_SECONDS,
) -> list[str]:
    """Delete the locks of `queues` held by a dead scheduler; return those queues."""
    script = connection.register_script(_CLEAR_IF_STALE)
    cleared = []
    for lock in scheduler_locks(connection, queues).values():
        threshold = _dead_after(connection, lock.holder, stale_seconds, dead_pid_seconds)
        if lock.age_seconds < threshold:
            continue
        max_pttl = int((LOCK_TTL_SECONDS - threshold) * 1000)
        if script(keys=[RQScheduler.get_locking_key(lock.queue)], args=[lock.holder, max_pttl]):
            cleared.append(lock.queue)
    return cleared


def clear_dead_scheduler_locks_at_start(
    connection: redis.Redis, queues: Sequence[str], *, sleep: float = 0.25
) -> list[str]:
    """Clear dead locks before a worker starts, waiting out `DEAD_PID_SECONDS` for one killed
    on this host a moment ago (a process manager restarts a worker at once)."""
    cleared = clear_dead_scheduler_locks(connection, queues)
    deadline = time.monotonic() + DEAD_PID_SECONDS
    while time.monotonic() < deadline and _held_by_dead_local_pid(connection, queues):
        time.sleep(sleep)
        cleared += clear_dead_scheduler_locks(connection, queues)
    return cleared


def _dead_after(
    connection: redis.Redis, holder: str, stale_seconds: float, dead_pid_seconds: float
) -> float:
    # Seconds without refresh after which `holder` counts as dead.
    try:
        scheduler = RQScheduler.fetch(holder, connection)
    except SchedulerNotFound:
        # Its hash is refreshed with the lock: gone means it died (or stopped half-way).
        return dead_pid_seconds
    if scheduler.hostname == socket.gethostname() and not _pid_running(scheduler.pid):
        return dead_pid_seconds
    return stale_seconds


def _held_by_dead_local_pid(connection: redis.Redis, queues: Sequence[str]) -> bool:
    for lock in scheduler_locks(connection, queues).values():
        if _dead_after(connection, lock.holder, STALE_SECONDS, 0.0) == 0.0:
            return True
    return False


def _pid_running(pid: int) -> bool:
    if pid <= 0:
        return True  # unknown: never a reason to call it dead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    # A killed scheduler whose worker died too waits as a zombie until init reaps it.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: the signal check is all we know
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
