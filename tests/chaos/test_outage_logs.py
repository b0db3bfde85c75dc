"""Redis stopped under traffic: one log line per cause and place per interval, with a count.

Before, every hop and callback wrote its own error line (with a traceback): 2 262 lines in
8 s of load. The clock of the rate limit is the test's, so nothing here waits.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import runtime
from civic.seed import seed_demo
from gateway.app import create_app
from gateway.logsetup import OUTAGE_CAUSES
from gateway.schema import migrate_payments as payments_migrate
from runtime import logs
from tests.chaos.conftest import PrivateRedis
from tests.conftest import UssdPhone

pytestmark = pytest.mark.slow  # starts and stops real processes

PAY_TOKEN = "chaos-payment-token-0123456789"
HOPS = 200
CALLBACKS = 20


class Clock:
    """The rate limit's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Counted(logging.Handler):
    """Count every record the code logs at WARNING or above, before any rate limit."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


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


@pytest.fixture
def written() -> Iterator[tuple[io.StringIO, Counted, Clock]]:
    """Our JSON handler (as the app installs it, on the test's clock) writing to a buffer."""
    clock = Clock()
    handler = logs.configure("INFO", outage_causes=OUTAGE_CAUSES, clock=clock)
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    handler.setStream(out)
    counted = Counted()
    logging.getLogger().addHandler(counted)
    yield out, counted, clock
    logging.getLogger().removeHandler(counted)
    logs.configure("INFO")


def _lines(out: io.StringIO, since: int = 0) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()[since:] if line]


def _traffic(app: Flask, start: int) -> None:
    client = app.test_client()
    for n in range(start, start + HOPS):
        UssdPhone(client, phone=f"+2438100{n:05d}").dial()
    for n in range(start, start + CALLBACKS):
        client.post(
            "/sms/africastalking/inbound",
            data={"from": "+243810000001", "to": "1234", "text": "AIDE", "id": f"in-{n}"},
        )
        client.post(
            "/ussd/africastalking/events",
            data={"sessionId": f"ATUid_logs_{n}", "status": "Incomplete"},
        )
        client.post(
            f"/payments/sandbox/callback?token={PAY_TOKEN}&intent=logs-{n}",
            json={"intent": f"logs-{n}", "status": "succeeded"},
        )


def test_a_redis_outage_writes_one_line_per_cause_per_interval(
    outage_app: Flask,
    private_redis: PrivateRedis,
    written: tuple[io.StringIO, Counted, Clock],
    figures: dict[str, Any],
) -> None:
    out, counted, clock = written
    private_redis.stop()
    requests = HOPS + 3 * CALLBACKS
    _traffic(outage_app, 0)
    first = _lines(out)
    causes = {(line["outage"], line["logger"]) for line in first if "outage" in line}
    # Every line of the first interval names its outage, and each cause appears once.
    assert [line for line in first if line["level"] in {"ERROR", "WARNING"}] != []
    assert all("outage" in line for line in first if line["level"] in {"ERROR", "WARNING"})
    assert len(causes) == len([line for line in first if "outage" in line])
    logged_in_first = counted.count
    # The next interval: the same traffic, one line per cause again, with the count held back.
    clock.now += logs.DEFAULT_OUTAGE_INTERVAL
    _traffic(outage_app, HOPS)
    second = _lines(out, since=len(first))
    repeats = {(line["outage"], line["logger"]): line.get("repeated", 0) for line in second}
    figures.update(
        {
            "requests during the outage (2 intervals)": 2 * requests,
            "error lines the code logged": counted.count,
            "lines written": len(first) + len(second),
            "causes (outage, logger)": sorted(f"{o} {g}" for o, g in causes),
            "held back, reported by the next interval's line": sum(repeats.values()),
        }
    )
    assert logged_in_first >= requests  # one per request at least, as before
    assert len(second) == len(causes)
    assert set(repeats) == causes
    # Each cause's second line says how many of its lines the first interval held back.
    assert sum(repeats.values()) == logged_in_first - len(causes)
