"""/readyz names what is down; /metrics exports hops, latency, SMS, payments, queues, limits."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

import runtime
from civic.seed import seed_demo
from gateway.app import create_app
from gateway.metrics import Metrics, hops_key
from gateway.schema import migrate_payments as payments_migrate
from sms.service import SmsService
from tests.conftest import UssdPhone
from tests.gateway.rq_alive import rq_alive


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    seed_demo(app_config["database_url"])
    payments_migrate(app_config["database_url"])
    return {**app_config, "metrics_flush_seconds": 0}


def _samples(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_ready_when_everything_answers(client: FlaskClient, redis_url: str) -> None:
    with rq_alive(redis_url):  # a worker and its scheduler, as rq records them
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "checks": {
            "redis": "ok",
            "database": "ok",
            "back_office": "ok",
            "workers": "ok",
            "scheduler": "ok",
        },
    }


def test_not_ready_names_the_database(app_config: dict[str, Any], tmp_path: Path) -> None:
    # A directory where the SQLite file should be: the database cannot be opened.
    (tmp_path / "not-a-file.db").mkdir()
    app = create_app({**app_config, "database_url": f"sqlite:///{tmp_path / 'not-a-file.db'}"})
    try:
        response = app.test_client().get("/readyz")
        body = response.get_json()
        assert response.status_code == 503
        assert body["status"] == "unready"
        assert body["checks"]["redis"] == "ok"
        assert body["checks"]["database"].startswith("error: ")
        assert body["checks"]["back_office"].startswith("error: ")
    finally:
        runtime.uninstall()


def test_not_ready_names_redis(app_config: dict[str, Any]) -> None:
    # Nothing listens there; an OTP key keeps start-up from reading its dev key in Redis.
    app = create_app({**app_config, "redis_url": "redis://127.0.0.1:9/0", "otp_key": "k" * 32})
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["checks"]["redis"].startswith("error: ")
        assert response.get_json()["checks"]["database"] == "ok"
        # /metrics still answers, and says which source it could not read.
        metrics = app.test_client().get("/metrics")
        assert metrics.status_code == 200
        assert (
            _samples(metrics.get_data(as_text=True))['guichet_metrics_source_up{source="redis"}']
            == 0
        )
    finally:
        runtime.uninstall()


def test_metrics_after_real_traffic(app: Flask, client: FlaskClient) -> None:
    phone = UssdPhone(client)
    phone.dial()
    phone.type("1")
    phone.retry()
    phone.post({"sessionId": "x"})  # malformed
    runtime.current().get(SmsService).send(
        "+243810000001", "otp", {"code": "123456", "minutes": 5}, idempotency_key="m-1"
    )
    runtime.current().get(Metrics).rejected("api_per_ip", 2)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    samples = _samples(text)
    assert samples['guichet_ussd_hops_total{screen="main",outcome="con"}'] == 1
    assert samples['guichet_ussd_hops_total{screen="tax_choose",outcome="con"}'] == 1
    assert samples['guichet_ussd_hops_total{screen="tax_choose",outcome="retry"}'] == 1
    assert samples['guichet_ussd_hops_total{screen="-",outcome="bad_request"}'] == 1
    assert samples['guichet_ussd_hop_seconds_bucket{le="+Inf"}'] == 4
    assert samples["guichet_ussd_hop_seconds_count"] == 4
    assert samples["guichet_ussd_hop_seconds_sum"] > 0
    buckets = [v for k, v in samples.items() if k.startswith("guichet_ussd_hop_seconds_bucket")]
    assert buckets == sorted(buckets)  # cumulative
    assert samples['guichet_sms_total{status="queued"}'] == 1
    assert samples['guichet_rq_jobs{queue="sms",state="queued"}'] == 1
    assert samples['guichet_rate_limit_rejections_total{limit="api_per_ip"}'] == 2
    assert 'guichet_metrics_source_up{source="database"}' in samples
    assert re.search(r"^# TYPE guichet_ussd_hop_seconds histogram$", text, re.M)


def test_counts_of_every_process_add_up(app: Flask, redis_client: redis.Redis) -> None:
    # Two processes' counters (two Metrics on one Redis) sum in /metrics.
    other = Metrics(redis_client, flush_seconds=0.05)
    other.hop("main", "con", 0.003)
    deadline = time.monotonic() + 10
    while not redis_client.hexists(hops_key(), "main|con") and time.monotonic() < deadline:
        time.sleep(0.02)  # the other process's flusher thread
    runtime.current().get(Metrics).hop("main", "con", 0.004)
    samples = _samples(app.test_client().get("/metrics").get_data(as_text=True))
    assert samples['guichet_ussd_hops_total{screen="main",outcome="con"}'] == 2
    assert samples['guichet_ussd_hop_seconds_bucket{le="0.005"}'] == 2


def test_counts_survive_a_redis_outage_of_the_flush(redis_client: redis.Redis) -> None:
    down = Metrics(redis.Redis(port=9, socket_connect_timeout=0.2), flush_seconds=0)
    down.hop("main", "con", 0.01)
    down.flush()  # fails: the deltas are kept
    down._redis = redis_client  # Redis is back (same process, same counters)
    down.flush()
    assert redis_client.hget(hops_key(), "main|con") == b"1"
