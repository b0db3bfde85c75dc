"""A slow back office: hops against a city portal at 200 ms with occasional 5 s stalls.

    .venv/bin/python bench/slow_backoffice.py [--seconds 30] [--needs 8] [--others 8]
        [--threads 3,12] [--latency 0.2] [--stall-share 0.05] [--stall-seconds 5]
    make bench-slow-backoffice

Guichet runs as the Procfile's web line (granian; `--threads` overrides its
`--blocking-threads`, one run per value) with `CIVIC_BACKEND=http` against the fake city
portal of the tests (`tests/civic/fake_portal.py`, over a seeded SQLite file), which answers
every call after `--latency` and stalls `--stall-share` of them `--stall-seconds` more.
Redis is a private redis-server on a free port. Two kinds of phones load it at once, from a
second process: `--needs` phones walk pay a tax -> road tax -> reference (the tax list and
the lookup ask the portal), `--others` phones dial and open "check a receipt" (no portal).

Reported per run: hops/s and p50/p99/max of the hops that need the portal and of those that
do not, the "try again later" answers (a timed-out portal call) and the worst portal hop
against CIVIC_READ_TIMEOUT. The targets (issue 19, reported in bench/README.md): a stall
never blocks unrelated hops (their p99 stays that of a quiet run) and timeouts hold.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.deadline import (  # noqa: E402
    PrivateRedis,
    _free_port,
    _spawn,
    _stop,
    _wait,
    machine,
    percentile,
    web_argv,
)
from civic.seed import seed_demo  # noqa: E402
from civic.sql import SqlBackend  # noqa: E402
from tests.civic.fake_portal import FakePortal  # noqa: E402

TOKEN = "bench-portal-token"  # noqa: S105 - a bench's own secret
REF = "100001"  # demo city: road tax, unpaid
UNAVAILABLE = ("réessayer", "plus tard", "indisponible")


class SlowPortal(FakePortal):
    """The tests' fake portal, slow every time and stalled now and then."""

    def __init__(
        self, backend: SqlBackend, *, latency: float, stall_share: float, stall_seconds: float
    ) -> None:
        super().__init__(backend, token=TOKEN)
        self.latency, self.stall_share, self.stall_seconds = latency, stall_share, stall_seconds
        self._rng = random.Random(19)  # noqa: S311 - a fake's dice
        self._dice = threading.Lock()
        self.stalls = 0

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        with self._dice:
            stall = self._rng.random() < self.stall_share
            self.stalls += stall
        time.sleep(self.latency + (self.stall_seconds if stall else 0.0))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # Guichet gave up
            super()._serve(handler, method)


@dataclass(frozen=True, slots=True)
class Sample:
    """One hop: its kind (needs the portal or not), when, how long, what came back."""

    kind: str
    at: float
    seconds: float
    ok: bool
    unavailable: bool


def _hop(http: requests.Session, url: str, sid: str, phone: str, text: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    try:
        answer = http.post(
            url,
            data={"sessionId": sid, "serviceCode": "*384*12#", "phoneNumber": phone,
                  "networkCode": "63001", "text": text},
            timeout=30,
        )  # fmt: skip
        body = answer.text if answer.status_code == 200 else f"HTTP {answer.status_code}"
    except requests.RequestException as error:
        body = f"ERROR {type(error).__name__}"
    return time.perf_counter() - t0, body


def load(url: str, needs: int, others: int, seconds: float, results: Any) -> None:
    """Run both kinds of phones for `seconds` (in a second process) and send the samples."""
    samples: list[Sample] = []
    lock = threading.Lock()
    until = time.time() + seconds

    def phone_loop(kind: str, n: int) -> None:
        http, k = requests.Session(), 0
        prefix = "+24383" if kind == "needs" else "+24384"
        while time.time() < until:
            sid = f"slow-{kind}-{n}-{k}-{uuid.uuid4().hex[:6]}"
            phone = f"{prefix}{(n * 100_000 + k) % 10_000_000:07d}"
            texts = ("", "1", "1*1", f"1*1*{REF}") if kind == "needs" else ("", "5")
            for text in texts:
                at = time.time()
                took, body = _hop(http, url, sid, phone, text)
                portal = kind == "needs" and text in {"1", f"1*1*{REF}"}
                tag = "needs" if portal else ("others" if kind == "others" else "other")
                with lock:
                    samples.append(
                        Sample(
                            tag,
                            at,
                            took,
                            body.startswith(("CON ", "END ")),
                            any(w in body for w in UNAVAILABLE),
                        )
                    )
                if body.startswith("END ") or not body.startswith("CON "):
                    break
            k += 1

    threads = [
        threading.Thread(target=phone_loop, args=(kind, n), daemon=True)
        for kind, count in (("needs", needs), ("others", others))
        for n in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    results.put([(s.kind, s.at, s.seconds, s.ok, s.unavailable) for s in samples])


def run_once(args: argparse.Namespace, threads: int, log_dir: Path) -> dict[str, Any]:
    """One run of the stack with `threads` blocking threads per granian worker."""
    db = log_dir / f"portal-{threads}.db"
    seed_demo(f"sqlite:///{db}")
    store = SqlBackend.from_url(f"sqlite:///{db}")
    portal = SlowPortal(
        store,
        latency=args.latency,
        stall_share=args.stall_share,
        stall_seconds=args.stall_seconds,
    ).start()
    redis_server = PrivateRedis(log_dir)
    port = _free_port()
    argv = web_argv(port)
    argv[argv.index("--blocking-threads") + 1] = str(threads)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUICHET_", "REDIS_"))}
    env.update(
        REDIS_URL=redis_server.url,
        DATABASE_URL=f"sqlite:///{log_dir / f'guichet-{threads}.db'}",
        CIVIC_BACKEND="http",
        CIVIC_PORTAL_URL=portal.url,
        CIVIC_PORTAL_TOKEN=TOKEN,
        LOG_LEVEL="INFO",
        PAYMENT_RECONCILE_INTERVAL_SECONDS="0",
    )
    web = _spawn(argv, env, log_dir / f"web-{threads}.log")
    try:
        _wait(lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok, "web", 60)
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        loader = context.Process(
            target=load,
            args=(f"http://127.0.0.1:{port}/ussd/africastalking", args.needs, args.others,
                  args.seconds, results),
        )  # fmt: skip
        loader.start()
        raw = results.get(timeout=args.seconds + 120)
        loader.join(30)
    finally:
        _stop(web)
        redis_server.stop()
        portal.stop()
        store.dispose()
    samples = [Sample(*r) for r in raw]
    row: dict[str, Any] = {"threads": threads, "stalls": portal.stalls, "calls": len(portal.calls)}
    for kind in ("needs", "others"):
        mine = [s for s in samples if s.kind == kind]
        times = [s.seconds for s in mine]
        row[kind] = {
            "hops": len(mine),
            "per_s": len(mine) / args.seconds,
            "p50_ms": percentile(times, 50) * 1000,
            "p99_ms": percentile(times, 99) * 1000,
            "max_ms": max(times, default=0.0) * 1000,
            "errors": sum(1 for s in mine if not s.ok),
            "unavailable": sum(1 for s in mine if s.unavailable),
        }
    return row


def main(argv: list[str] | None = None) -> int:
    """Run once per thread count and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--needs", type=int, default=8)
    parser.add_argument("--others", type=int, default=8)
    parser.add_argument("--threads", default="3", help="granian blocking threads, one run each")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--stall-share", type=float, default=0.05)
    parser.add_argument("--stall-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="guichet-slow-backoffice-"))
    print(f"machine: {machine()}; logs in {log_dir}", file=sys.stderr)
    print(
        f"portal {args.latency * 1000:.0f} ms, {args.stall_share:.0%} of calls stalled "
        f"{args.stall_seconds:.0f} s; {args.needs} phones need it, {args.others} do not; "
        f"{args.seconds:.0f} s per run"
    )
    print("| blocking threads | kind | hops/s | p50 ms | p99 ms | max ms | errors | try later |")
    print("|---|---|---|---|---|---|---|---|")
    for threads in (int(t) for t in args.threads.split(",")):
        row = run_once(args, threads, log_dir)
        for kind in ("needs", "others"):
            k = row[kind]
            print(
                f"| {threads} | {kind} | {k['per_s']:.1f} | {k['p50_ms']:.0f} | {k['p99_ms']:.0f} "
                f"| {k['max_ms']:.0f} | {k['errors']} | {k['unavailable']} |",
                flush=True,
            )
        print(f"  ({row['stalls']} stalls in {row['calls']} portal calls)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
