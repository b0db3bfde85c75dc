"""Redis and server CPU per hop, counted rather than timed: Guichet next to the Node peer.

    .venv/bin/python bench/redis_work.py [--targets guichet,node] [--sessions 3000]
                                         [--concurrency 64] [--stack granian3x3] [--rounds 2]

Wall-clock throughput on a shared 2-core machine swings with whatever else runs; the CPU a hop
costs does not (much). So each target gets a private, non-persistent `redis-server` on a free
port of 127.0.0.1 (nothing else talks to it), the harness's load generator (python engine,
`--sessions N` journeys of 6 hops at `--concurrency` sessions, every reply checked) drives it
over HTTP, and the figures are deltas of counters around the run:

- Redis CPU per hop: `INFO cpu` used_cpu_sys + used_cpu_user (the whole server: event loop,
  socket reads and writes, command execution, Lua);
- Redis command time per hop: `INFO commandstats` usec summed (execution only, no I/O), and the
  calls per hop of each command;
- server CPU per hop: utime + stime of every process in the server's process group (/proc).

Targets: `guichet` = `bench/serve.sh STACK` (the benchmark's app, `bench/journey.menus.yaml`,
every hardening feature at its default); `node` = the shared harness's ussd-menu-builder peer
(`peers/ussd_menu_builder/server.js`, copied to a temporary directory with its Redis port
pointed at the private server; its `node_modules` come from the harness's `setup.sh`).
Every process started here leads its own process group and is stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def shared_bench() -> Path:
    """Find the shared harness: $SHARED_BENCH, else ../shared/bench of the main checkout."""
    if os.environ.get("SHARED_BENCH"):
        return Path(os.environ["SHARED_BENCH"]).resolve()
    # A git worktree lives elsewhere: its common git directory names the main checkout.
    common = subprocess.run(  # noqa: S603 - our own argv
        ["git", "-C", str(ROOT), "rev-parse", "--path-format=absolute", "--git-common-dir"],  # noqa: S607
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    for base in (ROOT, Path(common).parent if common else ROOT):
        if (base / ".." / "shared" / "bench").is_dir():
            return (base / ".." / "shared" / "bench").resolve()
    raise SystemExit("no ../shared/bench next to this checkout: set SHARED_BENCH")


SHARED = shared_bench()
LOADGEN = SHARED / "loadgen" / "ussd_load.py"
TICK = os.sysconf("SC_CLK_TCK")
READY_BODY = (
    b"sessionId=ready{n}&serviceCode=%2A384%2A1234%23&phoneNumber=%2B243810000000"
    b"&networkCode=63001&text="
)


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def process_group(argv: list[str], **kwargs: object) -> Iterator[subprocess.Popen[bytes]]:
    """Start `argv` leading its own process group; TERM it (KILL after 5 s) on the way out."""
    proc = subprocess.Popen(argv, start_new_session=True, **kwargs)  # type: ignore[call-overload]  # noqa: S603
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(5)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def private_redis(workdir: Path) -> Iterator[redis.Redis]:
    """Run a throw-away redis-server (no RDB, no AOF) on a free port."""
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(workdir)]
    with process_group(argv, stdout=subprocess.DEVNULL):
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield client


def group_cpu_seconds(pgid: int) -> float:
    """Sum utime + stime of the live processes of process group `pgid` (from /proc)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def redis_cpu(client: redis.Redis) -> float:
    """Return the Redis server's own CPU seconds so far."""
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def wait_ready(url: str) -> None:
    """Wait until `url` answers a first hop."""
    for n in range(300):
        try:
            body = READY_BODY.replace(b"{n}", b"%d" % n)
            request = urllib.request.Request(url, data=body)  # noqa: S310 - http://127.0.0.1
            with urllib.request.urlopen(request, timeout=2) as answer:  # noqa: S310
                if answer.read()[:3] in (b"CON", b"END"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} never answered a hop")


def load(url: str, sessions: int, concurrency: int) -> dict[str, float]:
    """Run the harness's load generator for `sessions` journeys; return its result."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(  # noqa: S603 - our own argv
            [sys.executable, str(LOADGEN), url, "--engine", "python", "--sessions",
             str(sessions), "-c", str(concurrency), "-d", "600", "--json", out.name],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        result: dict[str, float] = json.loads(Path(out.name).read_text())
        return result


@contextmanager
def serve(
    target: str, redis_port: int, port: int, stack: str, node_modules: Path | None
) -> Iterator[tuple[int, str]]:
    """Serve `target` on `port` against the private Redis; yield (pgid, hop URL)."""
    if target == "guichet":
        env = dict(
            os.environ,
            MENUS_PATH=str(HERE / "journey.menus.yaml"),
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            REDIS_DB="0",
            DATABASE_URL=f"sqlite:///{tempfile.gettempdir()}/guichet-redis-work.db",
            LOG_LEVEL="INFO",
        )
        argv = [str(HERE / "serve.sh"), stack, str(port), "guichet"]
        url = f"http://127.0.0.1:{port}/ussd/africastalking"
        log = Path(tempfile.gettempdir()) / f"guichet-redis-work-{port}.log"
        with log.open("wb") as out, process_group(argv, env=env, stdout=out, stderr=out) as proc:
            yield proc.pid, url
        return
    peer = SHARED / "peers" / "ussd_menu_builder"
    modules = node_modules or peer / "node_modules"
    if not modules.is_dir():
        raise SystemExit(f"no {modules}: run {SHARED}/setup.sh first (or pass --node-modules)")
    with tempfile.TemporaryDirectory() as copy:
        source = (peer / "server.js").read_text()
        pointed = source.replace("port: 6379", f"port: {redis_port}")
        if pointed == source:
            raise SystemExit("server.js no longer names port 6379: update bench/redis_work.py")
        (Path(copy) / "server.js").write_text(pointed)
        (Path(copy) / "node_modules").symlink_to(modules)
        env = dict(os.environ, REDIS_DB="0", NODE_ENV="production")
        argv = [shutil.which("node") or "node", str(Path(copy) / "server.js"), str(port), "2"]
        with process_group(argv, env=env, stdout=subprocess.DEVNULL) as proc:
            yield proc.pid, f"http://127.0.0.1:{port}/ussd"


def measure(target: str, args: argparse.Namespace) -> dict[str, object]:
    """Run one target once and return its per-hop figures."""
    with tempfile.TemporaryDirectory() as work, private_redis(Path(work)) as client:
        redis_port = client.connection_pool.connection_kwargs["port"]
        with serve(target, redis_port, free_port(), args.stack, args.node_modules) as (pgid, url):
            wait_ready(url)
            load(url, max(100, args.sessions // 10), args.concurrency)  # warm-up
            client.config_resetstat()
            redis0, server0 = redis_cpu(client), group_cpu_seconds(pgid)
            result = load(url, args.sessions, args.concurrency)
            redis1, server1 = redis_cpu(client), group_cpu_seconds(pgid)
            stats = client.info("commandstats")
    hops = int(result["hops_ok"])
    commands = {
        name.removeprefix("cmdstat_"): stat
        for name, stat in stats.items()
        if not name.startswith(("cmdstat_info", "cmdstat_config"))
    }
    return {
        "target": target,
        "hops": hops,
        "errors": result["errors"],
        "redis_us": (redis1 - redis0) / hops * 1e6,
        "command_us": sum(s["usec"] for s in commands.values()) / hops,
        "server_us": (server1 - server0) / hops * 1e6,
        "calls": {name: s["calls"] / hops for name, s in commands.items()},
        "usec_per_call": {name: s["usec_per_call"] for name, s in commands.items()},
    }


def main() -> int:
    """Measure each target `--rounds` times, alternating, and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="guichet,node")
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--stack", default="granian3x3")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--node-modules", type=Path, help="the peer's node_modules elsewhere")
    parser.add_argument("--json", help="also write every round's figures here")
    args = parser.parse_args()
    rows = []
    for _ in range(args.rounds):
        for target in args.targets.split(","):
            row = measure(target, args)
            rows.append(row)
            calls = ", ".join(
                f"{name} {count:.2f} ({row['usec_per_call'][name]:.1f} us)"  # type: ignore[index]
                for name, count in sorted(row["calls"].items())  # type: ignore[attr-defined]
            )
            print(
                f"{target:8s} {row['hops']} hops, {row['errors']} errors: Redis CPU "
                f"{row['redis_us']:.1f} us/hop, Redis commands {row['command_us']:.1f} us/hop, "
                f"server CPU {row['server_us']:.0f} us/hop; calls/hop: {calls}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
