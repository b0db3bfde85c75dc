"""Outage drills: a PRIVATE redis-server per test (never the shared 6379), figures for the README.

Every test here is marked `slow`; `make chaos` runs only them, `make test` runs them too.
Each drill records its figures with the `figures` fixture; the session prints them at the end
and writes them to var/chaos-figures.json (copied into the README's Resilience section).
"""

from __future__ import annotations

import json
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

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
FIGURES: dict[str, dict[str, Any]] = {}
FIGURES_PATH = Path("var/chaos-figures.json")


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
    """Return this drill's figures (printed at the end of the run)."""
    return FIGURES.setdefault(request.node.name, {})


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the drills' figures and write them for the README."""
    if not FIGURES:
        return
    terminalreporter.section("chaos figures")
    for name, values in FIGURES.items():
        terminalreporter.write_line(name)
        for key, value in values.items():
            terminalreporter.write_line(f"    {key}: {value}")
    FIGURES_PATH.parent.mkdir(exist_ok=True)
    FIGURES_PATH.write_text(json.dumps(FIGURES, indent=2) + "\n")


def worker_env(**settings: str) -> dict[str, str]:
    """Return the environment of a `python -m gateway worker` subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUICHET_", "REDIS_"))}
    env.update({"LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}, **settings)
    return env
