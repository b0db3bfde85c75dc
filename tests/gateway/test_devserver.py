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
        """Kill the child if a test failed midway, then release its pipe."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join()
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def env(redis_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "PYTHONUNBUFFERED": "1",
    }


def dial(port: int) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "dial", "*384*12#", "--phone", "+243810000077"],
        input="9\n2\n8\n",
        cwd=ROOT,
        env={**os.environ, "PORT": str(port)},  # dial's default URL follows $PORT
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_the_runner_serves_web_and_worker_and_stops_both(env: dict[str, str]) -> None:
    port = free_port()
    runner = Runner(["--port", str(port)], env)
    try:
        runner.wait_for("Dial it")
        assert f"--url http://127.0.0.1:{port}/ussd/africastalking" in runner.output
        transcript = dial(port)
        assert "8. Help" in transcript
        assert "END " in transcript
        master = re.search(r"Listening at: \S+ \((\d+)\)", runner.output)
        assert master is not None, runner.output
        assert runner.stop(signal.SIGTERM) == 0
    finally:
        runner.close()
    assert "stopped" in runner.output
    assert "warm shut down" in runner.output  # the rq worker was told to stop
    # The children's process group is empty: no gunicorn or worker outlives the runner.
    with pytest.raises(ProcessLookupError):
        os.killpg(int(master.group(1)), 0)


def test_the_emulation_is_one_loud_process(env: dict[str, str]) -> None:
    port = free_port()
    runner = Runner(["--port", str(port), "--emulate-redis"], env)
    try:
        runner.wait_for("Dial it")
        assert "IN-PROCESS REDIS EMULATION" in runner.output
        transcript = dial(port)
        assert "8. Help" in transcript
        assert runner.stop(signal.SIGINT) == 0
    finally:
        runner.close()
    assert "stopped" in runner.output
