"""Redis frozen (SIGSTOP) or stopped: polite ENDs, 503s so callbacks are retried, self-recovery."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue

import runtime
from civic.seed import seed_demo
from gateway.app import create_app
from gateway.schema import migrate_payments as payments_migrate
from payments.queues import PAYMENTS_QUEUE
from runtime import keys
from tests.chaos.conftest import PrivateRedis
from tests.conftest import UssdPhone

pytestmark = pytest.mark.slow  # starts and stops real processes

PAY_TOKEN = "chaos-payment-token-0123456789"


@pytest.fixture
def outage_app(private_redis: PrivateRedis, tmp_path: Path) -> Iterator[Flask]:
    database_url = f"sqlite:///{tmp_path / 'guichet.db'}"
    seed_demo(database_url)
    payments_migrate(database_url)
    app = create_app(
        {
            "redis_url": private_redis.url,
            "database_url": database_url,
            "otp_key": "chaos-otp-key-0123456789abcdef",
            "payment_callback_token": PAY_TOKEN,
            "payment_reconcile_interval_seconds": 0.0,
            "metrics_flush_seconds": 0,
        }
    )
    app.testing = True
    yield app
    runtime.uninstall()


class Drill:
    """Send traffic, time it, count what came back."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.tried = 0
        self.errors: list[str] = []  # anything but a polite END / 503 / a normal answer
        self.end_seconds: list[float] = []
        self.callbacks_refused: list[Callable[[], int]] = []
        self.phones = iter(f"+24381000{n:04d}" for n in range(10_000))

    def hop_during_outage(self) -> None:
        phone = UssdPhone(self.client, phone=next(self.phones))
        started = time.perf_counter()
        screen = phone.dial()
        self.end_seconds.append(time.perf_counter() - started)
        self.tried += 1
        if (screen.status, screen.kind) != (200, "END"):
            self.errors.append(f"hop answered {screen.status} {screen.kind}")

    def callbacks_during_outage(self, n: int) -> None:
        posts: list[Callable[[], int]] = [
            lambda: (
                self.client.post(
                    "/sms/africastalking/inbound",
                    data={"from": "+243810000001", "to": "1234", "text": "AIDE", "id": f"in-{n}"},
                ).status_code
            ),
            lambda: (
                self.client.post(
                    "/sms/africastalking/delivery",
                    data={"id": f"ATXid_{n}", "status": "Success", "phoneNumber": "+243810000001"},
                ).status_code
            ),
            lambda: (
                self.client.post(
                    f"/payments/sandbox/callback?token={PAY_TOKEN}&intent=chaos-{n}",
                    json={"intent": f"chaos-{n}", "status": "succeeded"},
                ).status_code
            ),
            lambda: (
                self.client.post(
                    "/ussd/africastalking/events",
                    data={"sessionId": f"ATUid_chaos_{n}", "status": "Incomplete"},
                ).status_code
            ),
        ]
        for post in posts:
            self.tried += 1
            status = post()
            if status == 503:
                self.callbacks_refused.append(post)
            else:
                self.errors.append(f"callback answered {status} during the outage")

    def recover(self) -> float:
        """Return seconds from now until a fresh dial gets its menu again."""
        started = time.perf_counter()
        deadline = started + 15
        while time.perf_counter() < deadline:
            self.tried += 1
            if UssdPhone(self.client, phone=next(self.phones)).dial().kind == "CON":
                return time.perf_counter() - started
            time.sleep(0.05)
        raise AssertionError("no recovery within 15 s")

    def retry_refused(self) -> int:
        """Let the aggregators retry what got a 503; return how many were lost."""
        lost = 0
        for post in self.callbacks_refused:
            self.tried += 1
            if post() != 200:
                lost += 1
        return lost

    def report(self, figures: dict[str, Any], recovery: float, lost: int) -> None:
        figures.update(
            {
                "requests tried": self.tried,
                "errors seen (500, malformed, wrong status)": len(self.errors),
                "callbacks answered 503 during the outage": len(self.callbacks_refused),
                "callbacks lost after the aggregator's retry": lost,
                "time to END during the outage, median s": round(
                    statistics.median(self.end_seconds), 3
                ),
                "time to END during the outage, max s": round(max(self.end_seconds), 3),
                "time to recover (first menu after Redis is back), s": round(recovery, 3),
            }
        )


def _drill(
    app: Flask,
    figures: dict[str, Any],
    break_redis: Callable[[], None],
    mend_redis: Callable[[], None],
) -> None:
    client = app.test_client()
    phone = UssdPhone(client, phone="+243819999999")
    assert phone.dial().kind == "CON"
    drill = Drill(client)
    break_redis()
    try:
        for _ in range(5):
            drill.hop_during_outage()
        # A session already open: its next hop also gets the polite END.
        started = time.perf_counter()
        assert phone.type("1").kind == "END"
        drill.end_seconds.append(time.perf_counter() - started)
        drill.callbacks_during_outage(1)
    finally:
        mend_redis()
    recovery = drill.recover()
    lost = drill.retry_refused()
    # The payment callback refused earlier is now queued for processing: nothing was lost.
    jobs = Queue(keys.queue(PAYMENTS_QUEUE), connection=runtime.current().get(redis.Redis)).job_ids
    assert any(job_id.startswith(keys.job_id("payment-callback-")) for job_id in jobs)
    drill.report(figures, recovery, lost)
    assert drill.errors == []
    assert len(drill.callbacks_refused) == 4
    assert lost == 0
    assert max(drill.end_seconds) < 5  # a sanity bound; the measured figure goes to the README


def test_redis_frozen(
    outage_app: Flask, private_redis: PrivateRedis, figures: dict[str, Any]
) -> None:
    _drill(outage_app, figures, private_redis.freeze, private_redis.thaw)


def test_redis_stopped(
    outage_app: Flask, private_redis: PrivateRedis, figures: dict[str, Any]
) -> None:
    _drill(outage_app, figures, private_redis.stop, private_redis.start)
