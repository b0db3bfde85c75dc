"""Redis behind Sentinel: a SENTINEL FAILOVER under a running journey load, no restart.

The app is built once on `redis+sentinel://` (redis-py's Sentinel.master_for). While two
threads walk USSD journeys through the real WSGI app and a third asks for OTPs, a sentinel is
told to fail over: the replica becomes master, the old master a replica. Hops during the
switch may get the polite END (nothing accepted); none may lose a state Redis acknowledged,
and every OTP answered 202 is in the log exactly once. Then /readyz is asked on the replica.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

import runtime
from gateway.app import create_app
from gateway.config import Settings
from gateway.queues import QueueNames
from gateway.redis_client import connect
from gateway.worker import build_worker
from runtime import keys
from runtime.jobs import Jobs
from tests.topology.conftest import (
    MASTER_NAME,
    SENTINEL_PORTS,
    client_on,
    master_port,
    wait_for,
)
from tests.topology.journeys import Load, otp_records, prepare_database

pytestmark = pytest.mark.slow  # starts and stops real processes

WARM_SECONDS = 1.5
AFTER_SECONDS = 2.0  # journeys that must all pass once the new master answers


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'guichet.db'}"
    prepare_database(url)
    return url


@pytest.fixture
def sentinel_app(sentinel_url: str, database_url: str) -> Iterator[Flask]:
    app = create_app(
        {
            "redis_url": sentinel_url,
            "database_url": database_url,
            "otp_key": "topology-otp-key-0123456789abcdef",
            "payment_reconcile_interval_seconds": 0.0,
            "metrics_flush_seconds": 0,
            "rate_ussd_hops": "off",
        }
    )
    app.testing = True
    yield app
    runtime.uninstall()


def test_a_failover_under_load_loses_nothing_and_recovers_without_restart(
    sentinel_app: Flask, sentinel_url: str, figures: dict[str, Any]
) -> None:
    old_master, new_master, first_sentinel, *_ = SENTINEL_PORTS
    load = Load(sentinel_app)
    load.start()
    try:
        time.sleep(WARM_SECONDS)
        assert load.counts()["ok"] > 0, "no journey passed before the failover"
        failover_at = time.monotonic()
        client_on(first_sentinel).execute_command("SENTINEL", "FAILOVER", MASTER_NAME)
        switch = wait_for(lambda: master_port(first_sentinel) == new_master, "the new master")
        # Load goes on until journeys pass again, then AFTER_SECONDS more.
        wait_for(
            lambda: load.counts(since=failover_at + switch)["ok"] > 0, "a journey on the new master"
        )
        time.sleep(AFTER_SECONDS)
    finally:
        load.stop()
    outcomes = load.counts()
    refused_at = [at for at, outcome in load.outcomes if outcome == "refused"]
    recovery = max(refused_at) - failover_at if refused_at else 0.0
    after = load.counts(since=time.monotonic() - AFTER_SECONDS / 2)
    sentinel_client = connect(sentinel_url, socket_timeout=1.0)
    records = otp_records(sentinel_client)
    otp_lost = [phone for phone in load.otp_accepted if records[phone] == 0]
    otp_doubled = [phone for phone, count in records.items() if count > 1]
    figures.update(
        {
            "journeys passed": outcomes["ok"],
            "journeys refused politely (Redis switching)": outcomes["refused"],
            "journeys that lost an acknowledged state": outcomes["lost"],
            "sentinel switch, s": round(switch, 3),
            "recovery (failover to last refused journey), s": round(recovery, 3),
            "OTPs answered 202": len(load.otp_accepted),
            "OTPs answered 503 during the switch": load.otp_refused,
            "OTPs lost": len(otp_lost),
            "OTPs duplicated": len(otp_doubled),
        }
    )
    assert master_port(first_sentinel) == new_master != old_master
    assert outcomes["lost"] == 0, load.lost_details[:5]
    assert otp_lost == [] and otp_doubled == [] and load.otp_errors == []
    # No restart: the same app object answers on the new master.
    assert after["ok"] > 0 and after["refused"] == after["lost"] == 0
    assert sentinel_client.info("replication")["role"] == "master"
    assert client_on(new_master).info("replication")["role"] == "master"


def test_readyz_is_503_on_a_replica_and_200_for_redis_through_sentinel(
    sentinel_app: Flask, database_url: str
) -> None:
    _, replica, *_ = SENTINEL_PORTS
    through_sentinel = sentinel_app.test_client().get("/readyz").get_json()
    assert through_sentinel["checks"]["redis"] == "ok"
    runtime.uninstall()
    on_replica = create_app(
        {
            "redis_url": f"redis://127.0.0.1:{replica}/0",
            "database_url": database_url,
            "otp_key": "topology-otp-key-0123456789abcdef",  # no dev key written at start
            "payment_reconcile_interval_seconds": 0.0,  # no periodic job enqueued at start
        }
    )
    try:
        answer = on_replica.test_client().get("/readyz")
    finally:
        runtime.uninstall()
    assert client_on(replica).info("replication")["role"] == "slave"
    assert answer.status_code == 503
    assert answer.get_json()["checks"]["redis"].startswith("error: ReadOnlyError")


def test_a_worker_and_its_scheduler_run_on_sentinel(sentinel_url: str, database_url: str) -> None:
    # The web side enqueues a delayed job on the Sentinel master; rq's worker and its scheduler
    # (a connection rq rebuilds from ours) find it there and run it.
    settings = Settings.from_env(
        {},
        {
            "redis_url": sentinel_url,
            "database_url": database_url,
            "otp_key": "topology-otp-key-0123456789abcdef",
            "payment_reconcile_interval_seconds": 0.0,
            "sms_sweep_seconds": 0,
        },
    )
    try:
        worker = build_worker(settings, QueueNames.all())
        jobs = runtime.current().get(Jobs)  # type: ignore[type-abstract]
        assert jobs.enqueue(
            QueueNames.DEFAULT, "tests.topology.test_sentinel.remember", "ran", delay_seconds=0.2
        )
        time.sleep(1.1)  # rq's scheduler moves jobs whose time has come, to the second
        assert worker.work(burst=True, with_scheduler=True)
        client = runtime.current().get(redis.Redis)
        assert client.get(keys.key("test", "remembered")) == b"ran"
    finally:
        runtime.uninstall()


def remember(value: str) -> None:
    """A job: write `value` where the test reads it."""
    runtime.current().get(redis.Redis).set(keys.key("test", "remembered"), value)
