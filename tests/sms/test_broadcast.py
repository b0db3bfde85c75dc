"""Broadcast: progress, crash and resume without a second SMS to anyone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

import runtime
from gateway.cli import main as gateway_main
from runtime import keys
from sms.broadcast import Broadcaster, BroadcastProgress, read_rows
from sms.preferences import Preferences
from sms.providers.console import read_outbox
from sms.service import SmsService
from tests.sms.conftest import Jobs


def main(argv: list[str]) -> int:
    """Run `python -m gateway sms <argv>` in this process."""
    return gateway_main(["sms", *argv])


PHONES = ["+243810000011", "0810000012", "+243810000013", "not-a-phone", "+243810000015"]
PARAMS = {"tax": "Taxe voirie", "date": "31/03", "short_code": "*384*12#"}


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "citizens.csv"
    lines = ["phone,lang", *(f"{p},{'en' if i == 2 else ''}" for i, p in enumerate(PHONES))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _broadcaster(redis_client: redis.Redis) -> Broadcaster:
    return Broadcaster(runtime.current().get(SmsService), redis_client, "CD")


def _sent(jobs: Jobs, redis_client: redis.Redis) -> list[str]:
    jobs.run()
    return sorted(e.to for e in read_outbox(redis_client, limit=1000))


EXPECTED = ["+243810000011", "+243810000012", "+243810000013", "+243810000015"]


def test_crash_midway_then_resume_sends_each_phone_once(
    app: Flask, jobs: Jobs, redis_client: redis.Redis, csv_file: Path
) -> None:
    rows = read_rows(csv_file)
    broadcaster = _broadcaster(redis_client)

    def crash_after_two(progress: BroadcastProgress) -> None:
        if progress.done == 2:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        broadcaster.run("b1", "notice_tax_deadline", rows, PARAMS, on_progress=crash_after_two)
    assert _sent(jobs, redis_client) == EXPECTED[:2]
    progress = broadcaster.run("b1", "notice_tax_deadline", rows, PARAMS)
    assert (progress.skipped, progress.done, progress.invalid) == (2, 5, 1)
    assert _sent(jobs, redis_client) == EXPECTED
    english = read_outbox(redis_client, phone="+243810000013")[0].text
    assert english.startswith("Guichet: Taxe voirie is due by 31/03")


def test_a_lost_checkpoint_still_sends_nothing_twice(
    app: Flask, jobs: Jobs, redis_client: redis.Redis, csv_file: Path
) -> None:
    rows = read_rows(csv_file)
    broadcaster = _broadcaster(redis_client)
    broadcaster.run("b2", "notice_tax_deadline", rows, PARAMS, limit=3)
    # A crash between a send and its checkpoint write: the checkpoint lags behind.
    redis_client.hset(keys.key("sms", "broadcast", "b2"), "done", 0)
    broadcaster.run("b2", "notice_tax_deadline", rows, PARAMS)
    assert _sent(jobs, redis_client) == EXPECTED


def test_stop_applies_to_notices(
    app: Flask, jobs: Jobs, redis_client: redis.Redis, csv_file: Path
) -> None:
    runtime.current().get(Preferences).set_opted_out("+243810000011", True)
    progress = _broadcaster(redis_client).run(
        "b3", "notice_tax_deadline", read_rows(csv_file), PARAMS
    )
    assert (progress.queued, progress.refused) == (3, 1)
    assert "+243810000011" not in _sent(jobs, redis_client)


def test_the_cli_stops_at_a_limit_and_resumes(
    app_config: dict[str, Any],
    redis_client: redis.Redis,
    csv_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", str(app_config["redis_url"]))
    monkeypatch.setenv("DATABASE_URL", str(app_config["database_url"]))
    argv = ["broadcast", "--template", "notice_tax_deadline", "--to", str(csv_file)]
    argv += [f"--param={k}={v}" for k, v in PARAMS.items()]
    assert main([*argv, "--limit", "1"]) == 0
    assert "interrupted" in capsys.readouterr().err
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "5/5" in err and "done" in err
    assert _sent(Jobs(redis_client), redis_client) == EXPECTED
    runtime.uninstall()


def test_outbox_cli(
    app: Flask,
    jobs: Jobs,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sms = runtime.current().get(SmsService)
    sms.send("+243810000011", "otp", {"code": "111111", "minutes": 5}, idempotency_key="o1")
    sms.send("+243810000012", "otp", {"code": "222222", "minutes": 5}, idempotency_key="o2")
    jobs.run()
    capsys.readouterr()
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["outbox", "--phone", "+243810000012", "--json"]) == 0
    out = capsys.readouterr().out
    assert "222222" in out and "111111" not in out
