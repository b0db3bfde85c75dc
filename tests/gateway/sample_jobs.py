"""Job functions for the enqueuer tests: they run in a real rq worker and take ids only."""

from __future__ import annotations

import time

import redis

import runtime


def remember(key: str, value: str) -> None:
    """Record that the job ran, through the process's container like every real job."""
    runtime.current().get(redis.Redis).rpush(key, value)


def flaky(key: str) -> None:
    """Fail on the first attempt (a transient provider error), succeed on the retry."""
    attempts = runtime.current().get(redis.Redis).incr(key)
    if attempts == 1:
        raise ConnectionError("transient failure, first attempt")


def wait_for(key: str, seconds: float) -> None:
    """Block until the test pushes to `key` (a push waiting for the customer's PIN)."""
    connection = runtime.current().get(redis.Redis)
    connection.rpush(f"{key}:done", "1" if connection.blpop([key], timeout=seconds) else "0")


def hang(seconds: float) -> None:
    """Hang longer than the job's timeout (a provider that never answers)."""
    time.sleep(seconds)


def tick(interval_seconds: float) -> None:
    """Count the ticks of a periodic job (it takes its interval, like reconcile and sweep)."""
    runtime.current().get(redis.Redis).incr(f"ticks:{interval_seconds:g}")
