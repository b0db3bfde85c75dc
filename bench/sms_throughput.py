"""SMS pipeline throughput: messages/s of ONE `python -m gateway worker` process, lost and dupes.

    .venv/bin/python bench/sms_throughput.py [--messages 2000] [--classes fork,simple,preload]
        [--providers console,africastalking] [--redis-db 13] [--rounds 1]

For each provider x worker class: flush the Redis DB, queue N messages through the real
`SmsService.send` (N distinct phones, template `request_created` with a unique reference per
message), then start one real worker subprocess (`python -m gateway worker --queues sms
--burst --worker-class CLASS`, LOG_LEVEL=INFO as in production) and let it drain the queue.
`africastalking` sends through the real SDK to `python -m fakes.africastalking` (a subprocess on
127.0.0.1); `console` prints each SMS, and the worker's stdout is where it is counted.

Counted afterwards, never trusted from the worker: every message record is `sent` with a
provider id, the fake API (GET /_fake/requests) or the console output names every reference
exactly once (lost = never reached the provider, duplicates = reached it twice).

Rates: `drain/s` = N / (last record written - first claimed), the worker's steady state;
`wall/s` = N / the worker process's life, start-up (imports, container) included.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

AT_KEY = "bench-at-key"
TEMPLATE = "request_created"
_REF = re.compile(r"\b(B\d{7})\b")


@dataclass(frozen=True, slots=True)
class Row:
    """One run's figures."""

    provider: str
    worker_class: str
    messages: int
    enqueue_per_s: float
    drain_per_s: float
    wall_per_s: float
    sent: int
    lost: int
    duplicates: int
    provider_calls: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(redis_url: str, provider: str, at_url: str, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUICHET_", "REDIS_"))}
    env.update(
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        LOG_LEVEL="INFO",  # the production default: log formatting is part of the cost
        PYTHONUNBUFFERED="1",
        SMS_PROVIDER=provider,
        AT_USERNAME="guichet",
        AT_API_KEY=AT_KEY,
        AT_API_BASE_URL=at_url or "http://127.0.0.1:9",
        SMS_SWEEP_SECONDS="0",  # no sweep job in the queue: only deliveries are timed
    )
    return env


class FakeAt:
    """`python -m fakes.africastalking` as a subprocess on a free port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(  # noqa: S603 - our own argv
            [
                sys.executable,
                "-m",
                "fakes.africastalking",
                "--port",
                str(self.port),
                "--api-key",
                AT_KEY,
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                self.requests()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("the fake AT API did not start") from None
                time.sleep(0.1)

    def requests(self) -> list[dict[str, Any]]:
        """Return every request the fake received."""
        with urllib.request.urlopen(f"{self.url}/_fake/requests", timeout=30) as answer:  # noqa: S310
            return list(json.loads(answer.read()))

    def stop(self) -> None:
        """Stop the fake (its own child, by PID)."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _enqueue(n: int) -> float:
    """Queue n messages through the real SmsService; return messages/s."""
    from gateway.config import Settings  # noqa: PLC0415
    from gateway.container import build  # noqa: PLC0415
    from sms.service import SmsService  # noqa: PLC0415

    services = build(Settings.from_env())
    sms = services.get(SmsService)
    started = time.perf_counter()
    for i in range(n):
        result = sms.send(
            f"+24381{i:07d}",
            TEMPLATE,
            {"ref": f"B{i:07d}", "document": "Bench", "short_code": "*384*12#"},
            idempotency_key=f"bench:{i}",
            lang="fr",
        )
        if not result.accepted:
            raise RuntimeError(f"message {i} refused: {result.reason}")
    return n / (time.perf_counter() - started)


def _records(client: Any) -> list[dict[str, str]]:
    from sms.store import MessageStore  # noqa: PLC0415 - after sys.path names the checkout

    pipe = client.pipeline()
    keys = list(client.scan_iter(match=MessageStore.key("*"), count=1000))
    for key in keys:
        pipe.hgetall(key)
    return [{k.decode(): v.decode() for k, v in raw.items()} for raw in pipe.execute()]


def run_once(provider: str, worker_class: str, n: int, redis_db: int, log_dir: Path) -> Row:
    """Queue n messages, drain them with one worker process, count at both ends."""
    import redis  # noqa: PLC0415

    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    fake = FakeAt() if provider == "africastalking" else None
    try:
        # A database per run: the message log remembers every idempotency key it was given.
        database = f"sqlite:///{log_dir}/{provider}-{worker_class}-{time.time_ns()}.db"
        env = _env(redis_url, provider, fake.url if fake else "", database)
        os.environ.update(env)
        enqueue_rate = _enqueue(n)
        out = log_dir / f"{provider}-{worker_class}.out"
        err = log_dir / f"{provider}-{worker_class}.err"
        argv = [sys.executable, "-m", "gateway", "worker", "--queues", "sms", "--burst"]
        argv += ["--worker-class", worker_class]
        with out.open("wb") as stdout, err.open("wb") as stderr:
            started = time.time()
            worker = subprocess.run(  # noqa: S603 - our own argv
                argv, cwd=ROOT, env=env, stdout=stdout, stderr=stderr, check=False
            )
            ended = time.time()
        if worker.returncode != 0:
            raise RuntimeError(f"worker exited {worker.returncode}: see {err}")
        records = _records(client)
        if fake is not None:
            calls = fake.requests()
            refs = [m for call in calls for m in _REF.findall(call["form"].get("message", ""))]
            # One reference per text; a multi-recipient call would name several numbers.
            recipients = sum(len(call["form"].get("to", "").split(",")) for call in calls)
            if recipients != len(refs):
                refs = [num for call in calls for num in call["form"]["to"].split(",")]
            provider_calls = len(calls)
        else:
            # One line per SMS printed; its reference appears twice in the text.
            lines = out.read_text(encoding="utf-8").splitlines()
            refs = [m.group(1) for line in lines if (m := _REF.search(line))]
            provider_calls = len(refs)
    finally:
        if fake is not None:
            fake.stop()
        client.close()
    counts = collections.Counter(refs)
    expected = (
        {f"+24381{i:07d}" for i in range(n)}
        if refs and refs[0].startswith("+")
        else {f"B{i:07d}" for i in range(n)}
    )
    lost = len(expected - set(counts))
    duplicates = sum(c - 1 for c in counts.values() if c > 1) + len(set(counts) - expected)
    sent = [r for r in records if r.get("status") == "sent" and r.get("provider_id")]
    first = min(float(r["sending_since"]) for r in sent) if sent else started
    last = max(float(r["updated_at"]) for r in sent) if sent else ended
    return Row(
        provider=provider,
        worker_class=worker_class,
        messages=n,
        enqueue_per_s=enqueue_rate,
        drain_per_s=len(sent) / max(last - first, 1e-9),
        wall_per_s=len(sent) / (ended - started),
        sent=len(sent),
        lost=lost,
        duplicates=duplicates,
        provider_calls=provider_calls,
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    """Return a one-line description of this machine."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python "
        f"{platform.python_version()}"
    )


def main() -> int:
    """Run every provider x worker class and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--classes", default="fork,simple,preload")
    parser.add_argument("--providers", default="console,africastalking")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--rounds", type=int, default=1, help="best of this many runs per row")
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="guichet-sms-bench-"))
    print(f"{machine()}; load before: {_load()}; logs in {log_dir}", file=sys.stderr)
    rows: list[Row] = []
    for provider in args.providers.split(","):
        for worker_class in args.classes.split(","):
            runs = []
            for _ in range(args.rounds):
                row = run_once(provider, worker_class, args.messages, args.redis_db, log_dir)
                print(f"  {row}", file=sys.stderr)
                runs.append(row)
            rows.append(max(runs, key=lambda r: r.drain_per_s))
    print(f"load after: {_load()}", file=sys.stderr)
    print(
        "| provider | worker class | messages | drain msg/s | wall msg/s | enqueue msg/s "
        "| sent | lost | duplicates | provider calls |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.provider} | {r.worker_class} | {r.messages} | {r.drain_per_s:.0f} "
            f"| {r.wall_per_s:.0f} | {r.enqueue_per_s:.0f} | {r.sent} | {r.lost} "
            f"| {r.duplicates} | {r.provider_calls} |"
        )
    bad = [r for r in rows if r.lost or r.duplicates or r.sent != r.messages]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
