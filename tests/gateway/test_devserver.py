"""`python -m gateway run` (what `make run` starts): up, dialled, stopped, nothing left behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sms.providers.console import read_outbox

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Runner:
    """A `python -m gateway run` child whose output is collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, marker: str, patience: float = 90.0) -> None:
        """Wait until `marker` is printed (a guard against a hung start, not a timing check)."""
        deadline = time.monotonic() + patience
        while marker not in self.output:
            assert self.process.poll() is None, self.output
            assert time.monotonic() < deadline, self.output
            time.sleep(0.1)

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=60)

    def close(self) -> None:
        """Stop the child if a test failed midway, then release its pipe."""
        if self.process.poll() is None:
            # SIGTERM first: the runner then stops its web server and worker. A SIGKILL
            # would orphan them, and they would hold the pipe open (the join below forever).
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()
        self._reader.join(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def env(redis_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    # No $PORT: --port alone must reach the children (the sandbox calls back on it).
    inherited = {key: value for key, value in os.environ.items() if key != "PORT"}
    yield {
        **inherited,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "PYTHONUNBUFFERED": "1",
        "PAYMENT_PUSH_DELAY_SECONDS": "0",
        "SANDBOX_CALLBACK_DELAY_SECONDS": "0",
    }


def dial(port: int, keys: str = "9\n2\n8\n", phone: str = "+243810000077") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "dial", "*384*12#", "--phone", phone],
        input=keys,
        cwd=ROOT,
        env={**os.environ, "PORT": str(port)},  # dial's default URL follows $PORT
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


DEMO_PHONE = "+243810000001"


def wait_for_sms(redis_url: str, phone: str, patience: float = 60.0) -> str:
    """Return the first SMS the console provider sent to `phone` (a guard, not a timing check)."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + patience
    try:
        while not (sent := read_outbox(client, phone=phone)):
            assert time.monotonic() < deadline, f"no SMS for {phone}"
            time.sleep(0.2)
    finally:
        client.close()
    return sent[0].text


def test_the_runner_serves_web_and_worker_and_stops_both(
    env: dict[str, str], redis_url: str
) -> None:
    port = free_port()
    runner = Runner(["--port", str(port)], env)
    try:
        runner.wait_for("Dial it")
        assert f"--url http://127.0.0.1:{port}/ussd/africastalking" in runner.output
        # The banner says, before anything else, that development is play money.
        assert "PLAY MONEY" in runner.output
        assert "SMS_PROVIDER: console" in runner.output
        runner.wait_for(f"phone simulator: http://127.0.0.1:{port}/simulator")
        transcript = dial(port)
        assert "8. Help" in transcript
        assert "END " in transcript
        # Pay a demo tax: the worker's sandbox calls the gateway back on --port, and the
        # receipt SMS reaches the console outbox.
        paid = dial(port, "1\n1\n100001\n1\n1\n", phone=DEMO_PHONE)
        assert "END " in paid and "100001" in paid
        assert "paiement re" in wait_for_sms(redis_url, DEMO_PHONE)
        master = re.search(r"Starting granian \(main PID: (\d+)\)", runner.output)
        assert master is not None, runner.output
        assert runner.stop(signal.SIGTERM) == 0
    finally:
        runner.close()
    assert "stopped" in runner.output
    assert "warm shut down" in runner.output  # the rq worker was told to stop
    # The children's process group is empty: no web server or worker outlives the runner.
    with pytest.raises(ProcessLookupError):
        os.killpg(int(master.group(1)), 0)


def test_the_emulation_is_one_loud_process(env: dict[str, str]) -> None:
    port = free_port()
    runner = Runner(["--port", str(port), "--emulate-redis"], env)
    try:
        runner.wait_for("Dial it")
        assert "IN-PROCESS REDIS EMULATION" in runner.output
        runner.wait_for(f"phone simulator: http://127.0.0.1:{port}/simulator")
        transcript = dial(port)
        assert "8. Help" in transcript
        assert runner.stop(signal.SIGINT) == 0
    finally:
        runner.close()
    assert "stopped" in runner.output
