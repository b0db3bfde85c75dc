"""/readyz tells the truth: Redis that refuses writes, no worker, no scheduler are all 503.

Write refusals are real: a private redis-server (started here) made a replica, full, or short
of replicas. Workers and schedulers are what rq records when they start (tests/gateway/rq_alive).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from rq.scheduler import RQScheduler
from rq.scripts import acquire_or_refresh_lock

import runtime
from civic.seed import seed_demo
from gateway.app import create_app
from gateway.emulation import create_emulated_app
from gateway.queues import QueueNames
from gateway.rq_liveness import LOCK_TTL_SECONDS, STALE_SECONDS
from gateway.schema import migrate_payments as payments_migrate
from runtime import keys
from tests.chaos.conftest import PrivateRedis, free_port
from tests.gateway.rq_alive import rq_alive

ALL = ", ".join(QueueNames.all())


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    seed_demo(app_config["database_url"])  # the back office answers
    payments_migrate(app_config["database_url"])
    return app_config


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_app(private_redis: PrivateRedis, app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(
        {
            **app_config,
            "redis_url": private_redis.url,
            "otp_key": "k" * 32,  # no development key to write at start-up
            "payment_reconcile_interval_seconds": 0.0,
            "metrics_flush_seconds": 0,
        }
    )
    yield app
    runtime.uninstall()


def _checks(app: Flask) -> tuple[int, dict[str, str]]:
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert body["status"] == ("ready" if response.status_code == 200 else "unready"), body
    return response.status_code, body["checks"]


def _replica(admin: redis.Redis) -> None:
    admin.replicaof("127.0.0.1", free_port())  # a master that never answers: read-only


def _full(admin: redis.Redis) -> None:
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")


def _no_replicas(admin: redis.Redis) -> None:
    admin.config_set("min-replicas-to-write", "1")


@pytest.mark.parametrize(
    ("refuse_writes", "named"),
    [
        (_replica, "error: ReadOnlyError"),
        (_full, "error: OutOfMemoryError"),
        (_no_replicas, "error: ResponseError NOREPLICAS"),
    ],
    ids=["replica", "maxmemory", "min-replicas-to-write"],
)
def test_redis_that_refuses_writes_is_not_ready(
    private_app: Flask,
    private_redis: PrivateRedis,
    refuse_writes: Callable[[redis.Redis], None],
    named: str,
) -> None:
    admin = redis.Redis.from_url(private_redis.url)
    with rq_alive(private_redis.url):
        before = _checks(private_app)
        assert before == (200, dict.fromkeys(_ALL_CHECKS, "ok")), before
        refuse_writes(admin)
        assert admin.ping()  # PING still answers: that alone was the old check
        status, checks = _checks(private_app)
        admin.replicaof("NO", "ONE")
        admin.config_set("maxmemory", "0")
        admin.config_set("min-replicas-to-write", "0")
    assert status == 503
    assert checks == {**dict.fromkeys(_ALL_CHECKS, "ok"), "redis": named}
    admin.close()


_ALL_CHECKS = ("redis", "database", "back_office", "workers", "scheduler")


def test_no_worker_and_no_scheduler_are_named(app: Flask, redis_url: str) -> None:
    status, checks = _checks(app)
    assert status == 503
    assert checks["workers"] == f"error: none alive for {ALL}"
    assert checks["scheduler"] == f"error: none alive for {ALL}"
    assert checks["redis"] == checks["database"] == checks["back_office"] == "ok"
    with rq_alive(redis_url, [QueueNames.SMS]):  # a worker on sms only
        status, checks = _checks(app)
    assert status == 503
    assert checks["workers"] == "error: none alive for payments, default"
    assert checks["scheduler"] == "error: none alive for payments, default"
    with rq_alive(redis_url):
        assert _checks(app) == (200, dict.fromkeys(_ALL_CHECKS, "ok"))


def test_a_worker_whose_key_expired_is_not_alive(app: Flask, redis_url: str) -> None:
    with rq_alive(redis_url):
        connection = redis.Redis.from_url(redis_url)
        # A SIGKILLed worker stays registered; rq expires its key after its last heartbeat.
        [key] = connection.smembers("rq:workers")
        connection.delete(key)
        status, checks = _checks(app)
        connection.close()
    assert status == 503
    assert checks["workers"] == f"error: none alive for {ALL}"
    assert checks["scheduler"] == "ok"


def test_a_scheduler_that_stopped_refreshing_its_lock_is_not_alive(
    app: Flask, redis_url: str
) -> None:
    with rq_alive(redis_url) as scheduler:
        connection = redis.Redis.from_url(redis_url)
        # rq's own lock call, with the TTL left to a lock last refreshed STALE_SECONDS ago.
        stale_ttl = int(LOCK_TTL_SECONDS - STALE_SECONDS)
        key = RQScheduler.get_locking_key(keys.queue(QueueNames.PAYMENTS))
        connection.delete(key)
        assert acquire_or_refresh_lock(connection, key, scheduler.name, stale_ttl) == "acquired"
        status, checks = _checks(app)
        connection.close()
    assert status == 503
    assert checks["scheduler"] == "error: none alive for payments"
    assert checks["workers"] == "ok"


def test_the_redis_emulation_needs_no_worker(app_config: dict[str, Any]) -> None:
    app = create_emulated_app(app_config)
    try:
        status, checks = _checks(app)
    finally:
        runtime.uninstall()
    assert status == 200
    assert set(checks) == {"redis", "database", "back_office"}
