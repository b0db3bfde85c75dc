"""Redis Cluster: three masters hold sessions, limits and the SMS log; rq lives beside them.

The app is built on `redis+cluster://` (redis-py's RedisCluster) with QUEUE_REDIS_URL on a
plain Redis, as the README says. USSD journeys, an OTP sent and verified, and a road-tax
payment through the sandbox (push, callback to our served app, settlement) all run: no
CROSSSLOT, no MOVED reaches a caller, and the keys spread over the three masters.
"""

from __future__ import annotations

import re
import time
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
from sms.providers.console import read_outbox
from tests.conftest import UssdPhone
from tests.live_server import LiveServer
from tests.topology.conftest import CLUSTER_PORTS, client_on
from tests.topology.journeys import PORTAL, Load, prepare_database

pytestmark = pytest.mark.slow  # starts and stops real processes

JOURNEYS = 20
PAYER = "+243810000001"


@pytest.fixture
def cluster_app(
    cluster_url: str, queue_url: str, tmp_path: Path, live: LiveServer
) -> Iterator[Flask]:
    database_url = f"sqlite:///{tmp_path / 'guichet.db'}"
    prepare_database(database_url)
    app = create_app(
        {
            "redis_url": cluster_url,
            "queue_redis_url": queue_url,
            "database_url": database_url,
            "otp_key": "topology-otp-key-0123456789abcdef",
            "public_base_url": live.url,
            "payment_push_delay_seconds": 0.0,
            "sandbox_callback_delay_seconds": 0.0,
            "payment_reconcile_interval_seconds": 0.0,
            "metrics_flush_seconds": 0,
        }
    )
    app.testing = True
    live.app = app
    yield app
    runtime.uninstall()


def _work(queue_url: str) -> None:
    connection = redis.Redis.from_url(queue_url)
    try:
        queues = [Queue(keys.queue(name), connection=connection) for name in QueueNames.all()]
        SimpleWorker(queues, connection=connection).work(burst=True)
    finally:
        connection.close()


def test_journeys_otp_and_a_payment_run_on_a_three_master_cluster(
    cluster_app: Flask, queue_url: str, figures: dict[str, Any]
) -> None:
    load = Load(cluster_app)
    outcomes = [load.journey() for _ in range(JOURNEYS)]
    assert outcomes == ["ok"] * JOURNEYS, load.lost_details

    client = cluster_app.test_client()
    phone = "+243810000077"
    issued = client.post("/api/v1/otp", json={"phone": phone, "purpose": "login"}, headers=PORTAL)
    assert issued.status_code == 202
    _work(queue_url)  # the deliver job: the console provider writes its outbox on the cluster
    data_client = runtime.current().get(redis.Redis)
    [sent] = read_outbox(data_client, phone=phone, limit=1)
    code = re.search(r"\b(\d{6})\b", sent.text)
    assert code is not None
    verify = {"phone": phone, "purpose": "login", "code": code.group(1)}
    assert client.post("/api/v1/otp/verify", json=verify, headers=PORTAL).get_json() == {
        "valid": True
    }

    ussd = UssdPhone(client, phone=PAYER)
    ussd.dial()
    taxes = ussd.type("1")
    road = next(line.split(".")[0] for line in taxes.body.splitlines() if "voirie" in line)
    ussd.type(road)
    assert "26 500" in ussd.type("100001").body
    ussd.type("1")  # the first operator (the sandbox)
    started = ussd.type("1")
    assert started.end and "100001" in started.body
    deadline = time.monotonic() + 20
    paid = False
    while not paid and time.monotonic() < deadline:
        _work(queue_url)  # push, the sandbox's callback to our served app, settlement, receipt
        again = UssdPhone(client, phone="+243810000078")
        again.dial()
        again.type("1")
        again.type(road)
        paid = "déjà payée" in again.type("100001").body
        time.sleep(0.1)
    assert paid

    # The other multi-key scripts and pipelines: end-of-session events, inbound SMS (dedupe and
    # the sender's rate in one script), the metrics page (a pipeline over many slots).
    event = {"sessionId": "ATUid_cluster", "status": "Success", "phoneNumber": PAYER}
    assert client.post("/ussd/africastalking/events", data=event).get_json() == {
        "status": "accepted"
    }
    before = len(read_outbox(data_client, phone=PAYER))
    inbound = {"from": PAYER, "to": "1234", "text": "AIDE", "id": "in-cluster-1"}
    assert client.post("/sms/africastalking/inbound", data=inbound).status_code == 200
    assert client.post("/sms/africastalking/inbound", data=inbound).status_code == 200  # retry
    _work(queue_url)
    assert len(read_outbox(data_client, phone=PAYER)) == before + 1  # one reply, not two
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and b'guichet_metrics_source_up{source="redis"} 1' in (
        metrics.data
    )

    per_node = {port: client_on(port).dbsize() for port in CLUSTER_PORTS}
    queue_keys = redis.Redis.from_url(queue_url).keys("rq:*")
    figures.update(
        {
            "journeys passed": outcomes.count("ok"),
            "keys per master": per_node,
            "rq keys on the queue Redis": len(queue_keys),
        }
    )
    assert all(count > 0 for count in per_node.values())  # the cluster really shards
    assert queue_keys  # rq lives beside the cluster
    for port in CLUSTER_PORTS:
        assert not client_on(port).keys("rq:*")  # and never on it
