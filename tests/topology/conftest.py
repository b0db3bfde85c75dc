"""Redis topologies started by the tests: master + replica + 3 sentinels, a 3-master cluster.

Every server is a redis-server of our own on a PRIVATE port (a free block found at start in
7400-7999, never the shared 6379; a fixed block collided with another run on the same machine;
each xdist worker searches its own slice of that range)
in the test's tmp dir, stopped afterwards whatever happens. The tests here are marked
`slow` like tests/chaos: `make test` runs them, `make chaos` too; each starts in ~2 s. Each
test records its figures with the `figures` fixture: printed at the end of the run and written
to var/topology-figures.json (copied into the README's "Scaling out").
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import figures_of

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_TAKEN: set[int] = set()


def _worker_range(first: int = 7400, size: int = 600) -> tuple[int, int]:
    """Return this process's slice of the private ports: xdist workers never share a port.

    Every worker picks its blocks when it imports this file, each only checking the ports are
    free right now; without slices two workers could pick the same block and both start on it.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) if worker else 1
    index = int(worker.removeprefix("gw")) if worker else 0
    slice_size = size // count
    return first + index * slice_size, slice_size


def free_block(count: int, *, bus: bool = False) -> tuple[int, ...]:
    """Return `count` consecutive free ports of our slice of 7400-7999 (and cluster bus, +10000)."""
    first, size = _worker_range()
    start = random.randrange(0, size - count)
    for offset in range(size):
        base = first + (start + offset) % (size - count)
        ports = tuple(range(base, base + count))
        wanted = ports + (tuple(p + 10000 for p in ports) if bus else ())
        if not _TAKEN.intersection(wanted) and all(_port_free(p) for p in wanted):
            _TAKEN.update(wanted)  # the blocks of one run never overlap
            return ports
    raise RuntimeError(f"no {count} free consecutive ports in {first}-{first + size - 1}")


SENTINEL_PORTS = free_block(5)  # master, replica, three sentinels
CLUSTER_PORTS = free_block(3, bus=True)  # the cluster bus takes port + 10000
(QUEUE_PORT,) = free_block(1)  # a plain Redis for rq beside the cluster
MASTER_NAME = "guichet-master"


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Return this test's figures (printed at the end of the run, in var/topology-figures.json)."""
    return figures_of(request, "topology")


class Servers:
    """The redis-server processes one test started; all stopped at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, port: int, *args: str, config: str = "") -> None:
        """Start a redis-server on `port` (extra `args`; a written `config` file for sentinels)."""
        home = self.workdir / str(port)
        home.mkdir()
        command = [REDIS_SERVER]
        if config:
            (home / "sentinel.conf").write_text(config)
            command += [str(home / "sentinel.conf"), "--sentinel"]
        command += ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(home)]
        command += ["--save", "", "--appendonly", "no", *args]
        self.processes.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        wait_for(lambda: _answers(port), f"redis-server on {port}")

    def stop(self) -> None:
        """Stop every server."""
        for process in self.processes:
            process.send_signal(signal.SIGCONT)
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []


def wait_for(condition: Callable[[], object], what: str, timeout: float = 20.0) -> float:
    """Poll `condition` until true; return seconds waited, or fail naming `what`."""
    started = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except redis.RedisError:
            pass
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _answers(port: int) -> bool:
    client = redis.Redis(port=port, socket_timeout=0.5)
    try:
        return bool(client.ping())
    finally:
        client.close()


def client_on(port: int) -> redis.Redis:
    """Return a plain client of the server on `port` (short timeouts)."""
    return redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """Yield a process list for this test's redis-servers; stopped afterwards."""
    started = Servers(tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def sentinel_url(servers: Servers) -> str:
    """Start master, replica and three sentinels watching them; return the Sentinel URL."""
    master, replica, *sentinels = SENTINEL_PORTS
    # As the README asks of Sentinel deployments: a master without its replica refuses writes.
    guarded = ("--min-replicas-to-write", "1", "--min-replicas-max-lag", "10")
    servers.start(master, *guarded)
    servers.start(replica, *guarded, "--replicaof", "127.0.0.1", str(master))
    wait_for(
        lambda: client_on(replica).info("replication")["master_link_status"] == "up",
        "the replica's sync",
    )
    for port in sentinels:
        servers.start(
            port,
            config=(
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
            ),
        )
    for port in sentinels:
        wait_for(lambda port=port: _sentinel_sees_all(port), f"sentinel {port} to see everyone")
    hosts = ",".join(f"127.0.0.1:{port}" for port in sentinels)
    return f"redis+sentinel://{hosts}/{MASTER_NAME}/0"


def _sentinel_sees_all(port: int) -> bool:
    state = client_on(port).sentinel_master(MASTER_NAME)
    return int(state["num-slaves"]) >= 1 and int(state["num-other-sentinels"]) >= 2


def master_port(sentinel_port: int) -> int:
    """Return the port of the master `sentinel_port` names now."""
    _host, port = client_on(sentinel_port).sentinel_get_master_addr_by_name(MASTER_NAME)
    return int(port)


@pytest.fixture
def cluster_url(servers: Servers) -> str:
    """Start three masters, join them with `redis-cli --cluster create`; return the URL."""
    for port in CLUSTER_PORTS:
        servers.start(
            port,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            f"nodes-{port}.conf",
            "--cluster-node-timeout",
            "2000",
        )
    nodes = [f"127.0.0.1:{port}" for port in CLUSTER_PORTS]
    subprocess.run(
        [REDIS_CLI, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
    )
    for port in CLUSTER_PORTS:
        wait_for(
            lambda port=port: client_on(port).cluster("info").get("cluster_state") == "ok",
            f"cluster node {port} to be ok",
        )
    return "redis+cluster://" + ",".join(nodes)


@pytest.fixture
def queue_url(servers: Servers) -> str:
    """Start a plain Redis for rq (QUEUE_REDIS_URL beside a cluster); return its URL."""
    servers.start(QUEUE_PORT)
    return f"redis://127.0.0.1:{QUEUE_PORT}/0"
