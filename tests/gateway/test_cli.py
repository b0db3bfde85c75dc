"""`python -m gateway` commands: hash-key, worker (a real rq worker process), migrate steps."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from flask import Flask

import runtime
from gateway.auth import ApiKeyring
from gateway.cli import main
from gateway.config import ConfigError, Settings
from gateway.jobs import EffectEnqueuer
from gateway.schema import Step, ensure_sqlite_directory, run_steps
from gateway.worker import WORKER_CLASSES, parse_queues
from menus.registry import Effect
from runtime.jobs import RqJobs

ROOT = Path(__file__).resolve().parents[2]


def test_hash_key_prints_an_entry_the_keyring_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hash-key", "k-9f8e7d6c5b4a", "--id", "agent-7", "--scope", "agent"]) == 0
    entry = capsys.readouterr().out.strip()
    assert entry.startswith("agent-7:agent:")
    assert "k-9f8e7d6c5b4a" not in entry
    keyring = ApiKeyring.from_settings(Settings.from_env({}, {"api_keys": entry}))
    key = keyring.authenticate("k-9f8e7d6c5b4a")
    assert key is not None
    assert (key.key_id, key.scope) == ("agent-7", "agent")


def test_hash_key_reads_the_key_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("portal-secret\n"))
    assert main(["hash-key", "-", "--id", "city-portal", "--scope", "portal"]) == 0
    assert capsys.readouterr().out.startswith("city-portal:portal:")
    assert main(["hash-key", "x", "--id", "a:b"]) == 2


def test_worker_queues_are_checked() -> None:
    assert parse_queues(" payments, sms ,default") == ["payments", "sms", "default"]
    with pytest.raises(ConfigError, match="reports"):
        parse_queues("payments,reports")
    with pytest.raises(ConfigError):
        parse_queues(" , ")


@pytest.mark.parametrize("worker_class", sorted(WORKER_CLASSES))
def test_the_worker_command_runs_queued_jobs(
    app: Flask, redis_url: str, redis_client: redis.Redis, tmp_path: Path, worker_class: str
) -> None:
    EffectEnqueuer(RqJobs(runtime.current().get(redis.Redis))).enqueue(
        Effect(queue="sms", func="tests.gateway.sample_jobs.remember", args=("ran", "w1"))
    )
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        [
            *(sys.executable, "-m", "gateway", "worker", "--queues", "payments,sms", "--burst"),
            *("--worker-class", worker_class),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert redis_client.lrange("ran", 0, -1) == [b"w1"]


def test_the_worker_refuses_the_emulation() -> None:
    env = {**os.environ, "GUICHET_EMULATE_REDIS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "inline" in result.stderr


def test_steps_run_in_order_on_the_url_and_say_so() -> None:
    ran: list[str] = []
    steps = [Step("first", lambda url: ran.append(f"1 {url}")), Step("second", ran.append)]
    out = io.StringIO()
    assert run_steps(steps, "sqlite://", out) == 0
    assert ran == ["1 sqlite://", "sqlite://"]
    assert out.getvalue() == "first: ok\nsecond: ok\n"


def test_a_failing_step_stops_the_command() -> None:
    ran: list[str] = []

    def broken(_url: str) -> None:
        raise RuntimeError("no table for you")

    with pytest.raises(RuntimeError, match="no table"):
        run_steps([Step("bad", broken), Step("after", ran.append)], "sqlite://", io.StringIO())
    assert ran == []  # nothing runs after a broken step


def test_migrate_and_seed_create_the_sqlite_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'nested' / 'g.db'}"
    ensure_sqlite_directory(url)
    assert (tmp_path / "var" / "nested").is_dir()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'g.db'}"}
    for command in ("migrate", "seed-demo", "seed-demo"):  # twice: both are idempotent
        result = subprocess.run(
            [sys.executable, "-m", "gateway", command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "skipped" not in result.stdout  # every package it names has landed
    assert (tmp_path / "db" / "g.db").exists()


_LOADED_BY = """
import json, sys
from gateway.cli import build_parser
build_parser({argv!r})
print(json.dumps(sorted(name.split(".")[0] for name in sys.modules)))
"""


def _top_modules_loaded_by(argv: list[str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED_BY.format(argv=argv)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def test_a_command_loads_only_its_own_heavy_dependencies() -> None:
    # The worker (production) never carries matplotlib or the Redis emulation...
    assert {"matplotlib", "fakeredis"} & _top_modules_loaded_by(["worker", "--burst"]) == set()
    # ...the funnel report brings matplotlib, the development runner fakeredis.
    assert "matplotlib" in _top_modules_loaded_by(["report", "funnel", "--png", "x.png"])
    assert "fakeredis" in _top_modules_loaded_by(["run", "--emulate-redis"])
