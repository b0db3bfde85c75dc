"""Outage drills: a PRIVATE redis-server per test (never the shared 6379), figures for the README.

Every test here is marked `slow`; `make chaos` runs only them, `make test` runs them too.
Each drill records its figures with the `figures` fixture; the session prints them at the end
and writes them to var/chaos-figures.json (copied into the README's Resilience section).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

import runtime
from civic.seed import seed_demo
from fakes.africastalking import FakeAfricasTalking
from fakes.daraja import FakeDaraja
from gateway.app import create_app
from gateway.schema import migrate_payments as payments_migrate
from tests.conftest import FAKE_AT_KEY, figures_of
from tests.live_server import LiveServer
from tests.payments.conftest import RECEIPT_KEY

ROOT = Path(__file__).resolve().parents[2]
PAY_TOKEN = "chaos-payment-token-0123456789"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of our own on a free port: stop it, freeze it, start it again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return its URL (database 0: the server is ours alone)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server (appendonly, like production) and wait until it answers."""
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM: it writes its append-only file first)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart_empty(self) -> None:
        """Stop the server, delete its files, start it again on the same port: all forgotten."""
        self.stop()
        for name in ("appendonlydir", "dump.rdb"):
            path = self.workdir / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        self.start()

    def freeze(self) -> None:
        """SIGSTOP: connections stay open, nothing answers (a slow or hung Redis)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: the server answers again."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """Yield a running private redis-server; always stopped afterwards."""
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Return this test's figures (printed at the end of the run, in var/chaos-figures.json)."""
    return figures_of(request, "chaos")


def worker_env(**settings: str) -> dict[str, str]:
    """Return the environment of a `python -m gateway worker` subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUICHET_", "REDIS_"))}
    env.update({"LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}, **settings)
    return env


# The settings of drills that run a real worker beside the app (test_worker_kill, ...).
@pytest.fixture
def config(
    private_redis: PrivateRedis,
    tmp_path: Path,
    fake_at: FakeAfricasTalking,
    fake_daraja: FakeDaraja,
    live: LiveServer,
) -> dict[str, Any]:
    database_url = f"sqlite:///{tmp_path / 'guichet.db'}"
    seed_demo(database_url)
    payments_migrate(database_url)
    state = fake_daraja.state
    return {
        "redis_url": private_redis.url,
        "database_url": database_url,
        "menus_path": str(ROOT / "menus.yaml"),
        "sms_templates_path": str(ROOT / "sms_templates.yaml"),
        "otp_key": "chaos-otp-key-0123456789abcdef",
        "sms_provider": "africastalking",
        "at_username": "guichet",
        "at_api_key": FAKE_AT_KEY,
        "at_api_base_url": fake_at.url,
        "at_timeout_seconds": 1.0,
        "sms_sending_lease_seconds": 1.0,
        "sms_sweep_seconds": 1.0,
        "sms_retry_delays": "1,2",
        "sms_allowed_countries": "CD,KE",  # the receipt goes to the Daraja test number
        "payment_operators": "mpesa:daraja",
        "payment_push_delay_seconds": 0.0,
        "payment_reconcile_interval_seconds": 0.0,
        "payment_callback_token": PAY_TOKEN,
        "receipt_key": RECEIPT_KEY,
        "public_base_url": live.url,
        "daraja_base_url": fake_daraja.url,
        "daraja_consumer_key": state.consumer_key,
        "daraja_consumer_secret": state.consumer_secret,
        "daraja_shortcode": state.shortcode,
        "daraja_passkey": state.passkey,
        "daraja_timeout_seconds": 1.0,
        "metrics_flush_seconds": 0,
    }


@pytest.fixture
def app(config: dict[str, Any], live: LiveServer) -> Iterator[Flask]:
    application = create_app(config)
    live.app = application
    yield application
    runtime.uninstall()
