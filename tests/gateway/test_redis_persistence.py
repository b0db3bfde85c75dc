"""Production warns when Redis keeps nothing across a restart; `make run`'s Redis keeps AOF.

Each test starts its own redis-server on a free port (never the shared 6379; no fixed port,
which another test run or xdist worker could hold).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from gateway.redis_persistence import persistence_warning
from tests.chaos.conftest import REDIS_SERVER, free_port

ROOT = Path(__file__).resolve().parents[2]


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@contextlib.contextmanager
def _server(tmp_path: Path, *options: str) -> Iterator[redis.Redis]:
    port = free_port()
    command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    client = redis.Redis(port=port, socket_timeout=2)
    try:
        deadline = time.monotonic() + 10
        while not _answers(client):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(10)


def test_no_persistence_is_warned_about(tmp_path: Path) -> None:
    with _server(tmp_path, "--appendonly", "no", "--save", "") as client:
        warning = persistence_warning(client)
    assert warning is not None and "appendonly no" in warning


def test_aof_or_snapshots_are_enough(tmp_path: Path) -> None:
    with _server(tmp_path, "--appendonly", "yes", "--save", "") as client:
        assert persistence_warning(client) is None
    with _server(tmp_path, "--appendonly", "no", "--save", "900 1") as client:
        assert persistence_warning(client) is None


def test_a_managed_redis_refusing_config_is_asked_through_info(tmp_path: Path) -> None:
    refused = ("--rename-command", "CONFIG", "")
    with _server(tmp_path, "--appendonly", "no", "--save", "", *refused) as client:
        warning = persistence_warning(client)
    assert warning is not None and "aof_enabled:0" in warning
    with _server(tmp_path, "--appendonly", "yes", *refused) as client:
        assert persistence_warning(client) is None


def test_an_unreachable_redis_is_not_this_check_s_business() -> None:
    assert persistence_warning(redis.Redis(port=free_port(), socket_connect_timeout=0.5)) is None


def test_make_run_starts_its_own_redis_with_the_append_only_file() -> None:
    port = free_port()
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    client = redis.Redis(port=port, socket_timeout=2)
    try:
        subprocess.run([str(ROOT / "scripts" / "ensure_redis.sh")], env=env, check=True, timeout=30)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("dir")["dir"] == str(ROOT / "var" / "redis")
        assert persistence_warning(client) is None
    finally:
        with contextlib.suppress(redis.RedisError):
            client.shutdown(nosave=True)
