"""Try serving stacks side by side: start each with bench/serve.sh, load it, print a table.

    .venv/bin/python bench/stacks.py [--app guichet|baseline] [--duration 10] STACK...

Each server leads its own process group and is stopped by its PID (never by name). Uses the
shared harness's load generator, 64 concurrent sessions by default. Redis DB 7.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "bench"
LOAD = SHARED / "loadgen" / "ussd_load.py"
PORT = 8111
PATHS = {"guichet": "/ussd/africastalking", "baseline": "/ussd"}


def bench_env(db: int) -> dict[str, str]:
    """Return the environment of a benchmarked gateway (bench menus, Redis DB `db`)."""
    return {
        **os.environ,
        "MENUS_PATH": str(HERE / "journey.menus.yaml"),
        "REDIS_URL": f"redis://127.0.0.1:6379/{db}",
        "REDIS_DB": str(db),
        "DATABASE_URL": "sqlite:////tmp/guichet-bench.db",
        "LOG_LEVEL": "WARNING",
    }


def wait_ready(url: str, timeout: float = 30.0) -> bool:
    """Return True once `url` answers a first hop."""
    body = b"sessionId=ready&serviceCode=%2A384%2A1234%23&phoneNumber=%2B243810000000&text="
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, data=body, timeout=2) as answer,  # noqa: S310
        ):
            if answer.read()[:3] in (b"CON", b"END"):
                return True
        time.sleep(0.2)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the process group led by `proc`: TERM, then KILL after 5 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def load(url: str, seconds: int, label: str, pid: int | None, concurrency: int) -> str:
    """Run the shared load generator and return its RESULT line."""
    argv = [sys.executable, str(LOAD), url, "-c", str(concurrency), "-d", str(seconds)]
    argv += ["--mode", "journey", "--label", label]
    if pid is not None:
        argv += ["--server-pid", str(pid)]
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout  # noqa: S603
    return next((line for line in out.splitlines() if line.startswith("RESULT")), out)


def main() -> int:
    """Measure every stack named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stacks", nargs="+")
    parser.add_argument("--app", default="guichet", choices=sorted(PATHS))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", default="2")
    args = parser.parse_args()
    url = f"http://127.0.0.1:{PORT}{PATHS[args.app]}"
    keys = ("hops_per_s", "p50_ms", "p99_ms", "errors", "server_cpu_pct", "loadgen_cpu_pct")
    print("| stack | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for stack in args.stacks:
        # DB 7 is ours: the harness reuses phone numbers run after run, and the per-phone hop
        # limit (RATE_USSD_HOPS) must not see several runs add up within its minute.
        subprocess.run(["redis-cli", "-n", "7", "flushdb"], check=True, capture_output=True)  # noqa: S607
        proc = subprocess.Popen(  # noqa: S603
            [str(HERE / "serve.sh"), stack, str(PORT), args.app, args.workers],
            env=bench_env(7),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if not wait_ready(url):
                print(f"| {stack} | did not start |")
                continue
            load(url, 3, "warmup", None, args.concurrency)
            line = load(url, args.duration, stack, proc.pid, args.concurrency)
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            print(f"| {stack} | " + " | ".join(fields.get(k, "?") for k in keys) + " |")
        finally:
            stop(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
