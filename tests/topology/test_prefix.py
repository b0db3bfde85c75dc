"""Two installations on one Redis (REDIS_PREFIX): no shared key, no job taken from the other."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue, SimpleWorker

import runtime
from gateway.app import create_app
from gateway.queues import QueueNames
from runtime import keys
from runtime.jobs import Jobs
from sms.providers.console import read_outbox
from tests.conftest import UssdPhone
from tests.topology.journeys import PORTAL

PHONE = "+243810000055"


def _install(prefix: str, redis_url: str, tmp_path: Path) -> Flask:
    runtime.uninstall()
    app = create_app(
        {
            "redis_url": redis_url,
            "redis_prefix": prefix,
            "database_url": f"sqlite:///{tmp_path / prefix}.db",
            "otp_key": f"{prefix}-otp-key-0123456789abcdef",
            "payment_reconcile_interval_seconds": 0.0,
        }
    )
    app.testing = True
    return app


def _queues(connection: redis.Redis) -> list[Queue]:
    return [Queue(keys.queue(name), connection=connection) for name in QueueNames.all()]


def _same_job(_: Any) -> None:
    """A job both installations enqueue under one id."""


@pytest.fixture(autouse=True)
def _default_prefix_after() -> Iterator[None]:
    # The prefix is per process: leave the default to the tests that follow.
    yield
    keys.use_prefix(keys.DEFAULT_PREFIX)


def test_two_prefixes_share_no_key_and_take_no_job_of_the_other(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    city_a = _install("city-a", redis_url, tmp_path)
    assert UssdPhone(city_a.test_client(), phone=PHONE).dial().kind == "CON"
    sent_a = city_a.test_client().post(
        "/api/v1/otp", json={"phone": PHONE, "purpose": "login"}, headers=PORTAL
    )
    assert sent_a.status_code == 202
    jobs_a = runtime.current().get(Jobs)  # type: ignore[type-abstract]
    assert jobs_a.enqueue(QueueNames.DEFAULT, "tests.topology.test_prefix._same_job", 1, job_id="x")
    a_waiting = sum(queue.count for queue in _queues(redis_client))

    city_b = _install("city-b", redis_url, tmp_path)
    # The same phone on B: A's resend wait and rate buckets are not B's.
    sent_b = city_b.test_client().post(
        "/api/v1/otp", json={"phone": PHONE, "purpose": "login"}, headers=PORTAL
    )
    assert sent_b.status_code == 202
    jobs_b = runtime.current().get(Jobs)  # type: ignore[type-abstract]
    # The same job id is B's own, not refused as a duplicate of A's.
    assert jobs_b.enqueue(QueueNames.DEFAULT, "tests.topology.test_prefix._same_job", 1, job_id="x")
    SimpleWorker(_queues(redis_client), connection=redis_client).work(burst=True)

    # B's worker sent B's code and ran B's jobs; A's jobs still wait for A's workers.
    assert [entry.to for entry in read_outbox(redis_client, phone=PHONE)] == [PHONE]
    assert all(queue.count == 0 for queue in _queues(redis_client))
    keys.use_prefix("city-a")
    assert a_waiting > 0
    assert sum(queue.count for queue in _queues(redis_client)) == a_waiting
    assert read_outbox(redis_client, phone=PHONE) == []

    names = [raw.decode() for raw in redis_client.scan_iter(count=1000)]
    ours = [name for name in names if not name.startswith("rq:")]
    assert ours and all(name.startswith(("city-a:", "city-b:")) for name in ours)
    assert any(name.startswith("city-a:") for name in ours)
    assert any(name.startswith("city-b:") for name in ours)
    rq_queues = {name.removeprefix("rq:queue:") for name in names if name.startswith("rq:queue:")}
    assert rq_queues and all(name.startswith(("city-a:", "city-b:")) for name in rq_queues)


@pytest.mark.parametrize("prefix", ["", "City", "a:b", "a{b}", "x" * 33])
def test_a_prefix_that_would_break_keys_is_refused(prefix: str, app_config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="REDIS_PREFIX"):
        create_app({**app_config, "redis_prefix": prefix})
