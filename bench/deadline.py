"""Deadline day: citizens dial, pay a tax and wait for the receipt, on the production stack.

    .venv/bin/python bench/deadline.py [--citizens 2000] [--rate 20] [--workers 4]
        [--database postgres|sqlite] [--json out.json]
    make bench-deadline                      # DEADLINE_CITIZENS=2000 DEADLINE_WORKERS=4

What runs (every process our own child, stopped by PID at the end):

- a private `redis-server` on a free port of 127.0.0.1 (no snapshot, no AOF): nobody's 6379;
- a private back office: a fresh schema of the local PostgreSQL's `test` database (dropped at
  the end), or a SQLite file with `--database sqlite`; migrated and seeded with the demo
  city, plus one unpaid road-tax assessment per citizen;
- the fake Daraja (`fakes.daraja.Realism`: push answered in 0.5-2 s, PIN typed 5-30 s later,
  ~13 % failures, late and missing callbacks, 1 % pushes past our HTTP timeout) and the fake
  Africa's Talking SMS API, in this process;
- the Procfile's `web:` line (granian, its workers and threads) on a free port, and
  `--workers` copies of its `worker:` line;
- the citizens and a probe in a second process (no GIL shared with the fakes): citizens
  arrive at `--rate` per second and walk the USSD journey (pay a tax -> road tax -> reference
  -> pay -> M-Pesa); the probe walks a lookup journey (no payment) at a fixed pace, first
  alone (idle p99), then during the burst until the last payment is settled (busy p99).

Counted afterwards from both ends, never trusted from our own code: the fake provider's
pushes and results, the fake SMS API's messages, the back office's payments. Targets
(issue 19, reported in bench/README.md, never asserted): 0 lost, 0 double charges, 0 duplicate
receipts, receipt p99 <= 10 s after the provider's confirmation, busy hop p99 <= 2x idle.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import faulthandler
import json
import multiprocessing
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from fakes.africastalking import FakeAfricasTalking  # noqa: E402
from fakes.daraja import FakeDaraja, Realism  # noqa: E402

PG_DSN: Final = "postgresql://postgres@127.0.0.1:5432/test"
AT_KEY: Final = "bench-at-key"
CALLBACK_TOKEN: Final = "bench-callback-token"  # noqa: S105 - a bench's own secret
RECEIPT_KEY: Final = "bench-receipt-key-0123456789abcdef"
REF_BASE: Final = 500000  # citizens' assessments: 500000 + i (the demo city uses 1000xx)
PROBE_REF: Final = "100001"  # demo city: road tax, unpaid; the probe only looks it up
APP_NAME: Final = "guichet-deadline"  # PostgreSQL application_name: finds our backends' CPU
_RECEIPT = re.compile(r"RE(?:CU|CEIPT) ([0-9-]+)")


@dataclass(frozen=True, slots=True)
class Options:
    """One run's knobs (the CLI's flags; the test passes small ones)."""

    citizens: int = 2000
    rate: float = 20.0  # citizens arriving per second
    workers: int = 12  # worker processes, taken in turn from the Procfile's worker lines
    dialers: int = 32  # concurrent citizens at most
    database: str = "postgres"  # postgres (a private schema) | sqlite
    idle_seconds: float = 10.0  # probe alone before the burst
    probe_interval: float = 0.05  # seconds between two probe hops
    settle_timeout: float = 300.0  # after the last citizen dialled
    push_delay: float = 5.0  # PAYMENT_PUSH_DELAY_SECONDS (the production default)
    reconcile_after: float = 30.0  # PAYMENT_RECONCILE_AFTER_SECONDS (60 in production)
    reconcile_interval: float = 10.0  # PAYMENT_RECONCILE_INTERVAL_SECONDS (60 in production)
    realism: Realism = field(default_factory=Realism)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    log_dir: str = ""
    # An existing Redis database to flush and use (the tests' own) instead of a private
    # redis-server; its CPU is then not measured.
    redis_url: str = ""


# --------------------------------------------------------------------------- observations


@dataclass(frozen=True, slots=True)
class Hop:
    """One USSD hop as the phone saw it."""

    at: float  # epoch seconds when sent
    seconds: float
    ok: bool  # 200 with CON/END


@dataclass(frozen=True, slots=True)
class Citizen:
    """One citizen's journey."""

    index: int
    phone: str
    reference: str
    started: bool  # the last screen said a payment prompt is coming
    last_screen: str
    hops: tuple[Hop, ...]


@dataclass(frozen=True, slots=True)
class Charge:
    """One push the provider took, and what it did with it."""

    phone: str  # E.164
    reference: str  # AccountReference: the assessment's reference
    succeeded: bool  # money taken
    told_at: float | None  # when the provider first told us the result
    callback: str  # on_time | late | missing
    pushed_at: float = 0.0  # when the push reached the provider


@dataclass(frozen=True, slots=True)
class Sms:
    """One SMS the fake SMS API received."""

    phone: str
    text: str
    at: float


@dataclass
class Observations:
    """Everything counted, from the citizens, the fake provider, the SMS API, the database."""

    citizens: list[Citizen]
    charges: list[Charge]
    sms: list[Sms]
    payments: list[tuple[str, float]]  # civic_payments: (assessment reference, paid_at epoch)
    probe_idle: list[Hop]
    probe_busy: list[Hop]


@dataclass(frozen=True, slots=True)
class Tally:
    """The verdict: what went missing or twice."""

    payments: int  # citizens told a payment prompt is coming
    succeeded: int  # charges the provider took
    failed: int  # pushes the provider failed
    receipts: int  # distinct phones that got a receipt SMS
    lost: int
    double: int
    duplicate_receipts: int
    unanswered: int  # started, neither receipt nor failure SMS (counted in lost)
    receipt_seconds: tuple[float, ...]  # receipt SMS - the provider's confirmation


def tally(obs: Observations) -> Tally:
    """Count lost payments, double charges and duplicate receipts from both ends."""
    receipts: dict[str, list[Sms]] = collections.defaultdict(list)
    failures: dict[str, int] = collections.Counter()
    for sms in obs.sms:
        if _RECEIPT.search(sms.text):
            receipts[sms.phone].append(sms)
        else:
            failures[sms.phone] += 1
    started = {c.phone: c for c in obs.citizens if c.started}
    charged_by_ref: dict[str, int] = collections.Counter(
        c.reference for c in obs.charges if c.succeeded
    )
    paid_by_ref: dict[str, int] = collections.Counter(ref for ref, _ in obs.payments)
    pushed = {c.phone for c in obs.charges}
    lost_phones: set[str] = set()
    unanswered = 0
    for phone in started:
        if phone not in receipts and not failures.get(phone):
            unanswered += 1  # told "a prompt is coming", then nothing at all
            lost_phones.add(phone)
        elif phone not in pushed:
            lost_phones.add(phone)  # an answer without a push: nobody was asked to pay
    for charge in obs.charges:
        # Money taken with no receipt SMS, or with no payment in the back office.
        if charge.succeeded and (
            charge.phone not in receipts or not paid_by_ref.get(charge.reference)
        ):
            lost_phones.add(charge.phone)
    double = sum(n - 1 for n in charged_by_ref.values() if n > 1)
    double += sum(n - 1 for n in paid_by_ref.values() if n > 1)
    duplicates = sum(len(messages) - 1 for messages in receipts.values())
    latencies = []
    for charge in obs.charges:
        if charge.succeeded and charge.told_at is not None and receipts.get(charge.phone):
            first = min(s.at for s in receipts[charge.phone])
            latencies.append(max(0.0, first - charge.told_at))
    return Tally(
        payments=len(started),
        succeeded=sum(1 for c in obs.charges if c.succeeded),
        failed=sum(1 for c in obs.charges if not c.succeeded),
        receipts=len(receipts),
        lost=len(lost_phones),
        double=double,
        duplicate_receipts=duplicates,
        unanswered=unanswered,
        receipt_seconds=tuple(sorted(latencies)),
    )


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (nearest rank) of values, 0 when empty."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# ------------------------------------------------------------------------------- the stack


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (OSError, requests.RequestException):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.2)


_CLK_TCK: Final = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def group_pids(pgid: int) -> list[int]:
    """Return the pids of a process group (a server and the workers it forked)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    pids.append(int(entry.name))
    return pids


class PrivateRedis:
    """A redis-server of our own on a free port (no persistence), stopped by its PID."""

    process: subprocess.Popen[bytes] | None

    def __init__(self, log_dir: Path, url: str = "") -> None:
        if url:
            import redis  # noqa: PLC0415

            client = redis.Redis.from_url(url)
            client.flushdb()
            client.close()
            self.url, self.process = url, None
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(log_dir), "--logfile", "redis.log"]
        self.process = subprocess.Popen(  # noqa: S603 - our own argv
            argv, stdout=subprocess.DEVNULL, start_new_session=True
        )

        def ping() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")

        _wait(ping, "redis-server")

    def stop(self) -> None:
        """Stop our redis-server."""
        if self.process is not None:
            _stop(self.process)


class PrivateDatabase:
    """A fresh PostgreSQL schema (dropped afterwards) or a SQLite file."""

    def __init__(self, kind: str, log_dir: Path) -> None:
        self.kind = kind
        self.schema = ""
        if kind == "postgres":
            import psycopg  # noqa: PLC0415 - only this mode needs the driver at hand

            self.schema = f"deadline_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE SCHEMA "{self.schema}"')
            self.url = (
                "postgresql+psycopg://postgres@127.0.0.1:5432/test"
                f"?options=-csearch_path%3D{self.schema}&application_name={APP_NAME}-{self.schema}"
            )
        elif kind == "sqlite":
            self.url = f"sqlite:///{log_dir / 'deadline.db'}"
        else:
            raise ValueError(f"unknown database {kind!r} (postgres or sqlite)")

    def backend_pids(self) -> list[int]:
        """Return the PostgreSQL backends serving our processes (none for SQLite)."""
        if self.kind != "postgres":
            return []
        import psycopg  # noqa: PLC0415

        with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                (f"{APP_NAME}-{self.schema}",),
            ).fetchall()
        return [int(row[0]) for row in rows]

    def drop(self) -> None:
        """Drop our schema (PostgreSQL); the SQLite file stays with the logs."""
        if self.kind == "postgres":
            import psycopg  # noqa: PLC0415

            with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def postgres_available() -> bool:
    """Say whether the local PostgreSQL answers (else the bench falls back to SQLite)."""
    try:
        import psycopg  # noqa: PLC0415

        with psycopg.connect(PG_DSN, connect_timeout=2):
            return True
    except Exception:  # any failure means "not here"
        return False


def procfile(root: Path = ROOT) -> dict[str, list[str]]:
    """Return the Procfile's process types as argv lists."""
    lines = {}
    for line in (root / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.startswith("#"):
            lines[name.strip()] = shlex.split(command)
    return lines


def web_argv(port: int) -> list[str]:
    """The Procfile's web line on 127.0.0.1:port, run from our virtualenv."""
    argv = [a.replace("$PORT", str(port)) for a in procfile()["web"]]
    if "--host" in argv:
        argv[argv.index("--host") + 1] = "127.0.0.1"
    bin_dir = Path(sys.executable).parent
    if (bin_dir / argv[0]).exists():
        argv[0] = str(bin_dir / argv[0])
    return argv


def worker_argvs() -> list[list[str]]:
    """Every Procfile line that runs `gateway worker` (worker first), with this interpreter."""
    lines = procfile()
    argvs = []
    for name in sorted(lines, key=lambda n: n != "worker"):
        argv = lines[name]
        if argv[1:4] == ["-m", "gateway", "worker"]:
            if argv[0] in {"python", "python3"}:
                argv = [sys.executable, *argv[1:]]
            argvs.append(argv)
    return argvs


def _stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def seed(database_url: str, env: Mapping[str, str], n: int, log_dir: Path) -> None:
    """Migrate, seed the demo city, add one unpaid road-tax assessment per citizen."""
    # In this process (the same code as `python -m gateway migrate` and `seed-demo`): two
    # interpreter start-ups fewer.
    from gateway.config import Settings  # noqa: PLC0415 - after sys.path names us
    from gateway.schema import migrate_all, seed_demo  # noqa: PLC0415

    settings = Settings.from_env(env)
    with (log_dir / "seed.log").open("a") as out:
        if migrate_all(settings, out) or seed_demo(settings, out):
            raise RuntimeError(f"migrate or seed failed: see {log_dir / 'seed.log'}")
    from civic.sql_tables import assessments  # noqa: PLC0415 - after sys.path names us

    engine = sa.create_engine(database_url)
    rows = [
        {
            "id": f"road-{REF_BASE + i}",
            "tax_code": "road",
            "reference": str(REF_BASE + i),
            "amount": 26500,
            "currency": "CDF",
            "period": "2026",
            "due_date": date(2026, 12, 31),
            "paid": False,
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        if rows:
            conn.execute(sa.insert(assessments), rows)
    engine.dispose()


def stack_env(
    opts: Options, redis_url: str, database_url: str, web_port: int, *, daraja: FakeDaraja,
    at: FakeAfricasTalking,
) -> dict[str, str]:  # fmt: skip
    """The environment of every process of the stack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUICHET_", "REDIS_"))}
    state = daraja.state
    env.update(
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        PORT=str(web_port),
        LOG_LEVEL="INFO",  # the production default
        PYTHONUNBUFFERED="1",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{web_port}",
        PAYMENT_OPERATORS="mpesa:daraja",
        PAYMENT_CALLBACK_TOKEN=CALLBACK_TOKEN,
        PAYMENT_PUSH_DELAY_SECONDS=str(opts.push_delay),
        PAYMENT_RECONCILE_AFTER_SECONDS=str(opts.reconcile_after),
        PAYMENT_RECONCILE_INTERVAL_SECONDS=str(opts.reconcile_interval),
        RECEIPT_KEY=RECEIPT_KEY,
        DARAJA_BASE_URL=daraja.url,
        DARAJA_CONSUMER_KEY=state.consumer_key,
        DARAJA_CONSUMER_SECRET=state.consumer_secret,
        DARAJA_SHORTCODE=state.shortcode,
        DARAJA_PASSKEY=state.passkey,
        SMS_PROVIDER="africastalking",
        AT_USERNAME="guichet",
        AT_API_KEY=AT_KEY,
        AT_API_BASE_URL=at.url,
    )
    env.update(opts.extra_env)
    return env


# --------------------------------------------------------------------------- the citizens


def _hop(http: requests.Session, url: str, session_id: str, phone: str, text: str) -> tuple[
    Hop, str
]:  # fmt: skip
    started = time.time()
    t0 = time.perf_counter()
    try:
        answer = http.post(
            url,
            data={
                "sessionId": session_id,
                "serviceCode": "*384*12#",
                "phoneNumber": phone,
                "networkCode": "63001",
                "text": text,
            },
            timeout=30,
        )
        body = answer.text
        ok = answer.status_code == 200 and body.startswith(("CON ", "END "))
    except requests.RequestException as error:
        body, ok = f"ERROR {type(error).__name__}", False
    return Hop(started, time.perf_counter() - t0, ok), body


def citizen_journey(url: str, index: int, http: requests.Session) -> Citizen:
    """Dial, choose pay a tax -> road tax, type the reference, pay, choose M-Pesa."""
    phone = f"+24381{index:07d}"
    reference = str(REF_BASE + index)
    session_id = f"deadline-{index}-{uuid.uuid4().hex[:8]}"
    hops: list[Hop] = []
    body = ""
    for text in ("", "1", "1*1", f"1*1*{reference}", f"1*1*{reference}*1", f"1*1*{reference}*1*1"):
        hop, body = _hop(http, url, session_id, phone, text)
        hops.append(hop)
        if not hop.ok or body.startswith("END "):
            break
    started = body.startswith("END ") and reference in body and "M-Pesa" in body
    return Citizen(index, phone, reference, started, body[:200], tuple(hops))


def probe_journey(url: str, n: int, http: requests.Session) -> list[Hop]:
    """A citizen who only looks a tax up (no payment): dial, pay a tax, road tax, reference."""
    phone = f"+24382{n % 10_000_000:07d}"  # a new phone each time: the hop rate limit is per phone
    session_id = f"probe-{n}-{uuid.uuid4().hex[:8]}"
    hops = []
    for text in ("", "1", "1*1", f"1*1*{PROBE_REF}"):
        hop, _ = _hop(http, url, session_id, phone, text)
        hops.append(hop)
    return hops


def load_process(url: str, opts: Options, results: Any, stop: Any) -> None:
    """The second process: the probe alone, then citizens and probe, then the probe alone."""
    faulthandler.register(signal.SIGUSR1)

    probe: list[Hop] = []
    probe_stop = threading.Event()

    def run_probe() -> None:
        http, n = requests.Session(), 0
        while not probe_stop.is_set():
            for hop in probe_journey(url, n, http):
                probe.append(hop)
                probe_stop.wait(opts.probe_interval)
            n += 1

    prober = threading.Thread(target=run_probe, daemon=True)
    prober.start()
    time.sleep(opts.idle_seconds)
    burst_started = time.time()
    results.put(("burst", burst_started, []))
    sessions = threading.local()

    def one(index: int) -> Citizen:
        if not hasattr(sessions, "http"):
            sessions.http = requests.Session()
        return citizen_journey(url, index, sessions.http)

    futures = []
    with ThreadPoolExecutor(max_workers=opts.dialers) as pool:
        for index in range(opts.citizens):
            due = burst_started + index / opts.rate
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            futures.append(pool.submit(one, index))
        citizens = [f.result() for f in futures]
    results.put(("citizens", burst_started, [asdict(c) for c in citizens]))
    stop.wait(opts.settle_timeout + 60)
    probe_stop.set()
    prober.join(30)
    results.put(("probe", burst_started, [asdict(h) for h in probe]))


def _citizen(raw: dict[str, Any]) -> Citizen:
    return Citizen(**{**raw, "hops": tuple(Hop(**h) for h in raw["hops"])})


# ------------------------------------------------------------------------------ the run


@dataclass
class Report:
    """What a run measured."""

    options: dict[str, Any]
    machine: str
    tally: Tally
    observations: Observations
    burst_seconds: float
    dial_seconds: float
    settle_seconds: float
    figures: dict[str, float]


def _reference_of(text: str) -> str:
    found = re.search(r"\b(5\d{5})\b", text)
    return found.group(1) if found else ""


def run(opts: Options) -> Report:
    """Start the stack, let the citizens pay, wait for every answer, count."""
    log_dir = Path(opts.log_dir or tempfile.mkdtemp(prefix="guichet-deadline-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as cleanup:
        redis_server = PrivateRedis(log_dir, opts.redis_url)
        cleanup.callback(redis_server.stop)
        database = PrivateDatabase(opts.database, log_dir)
        cleanup.callback(database.drop)
        daraja = FakeDaraja().start()
        cleanup.callback(daraja.stop)
        daraja.behave(opts.realism)
        at = FakeAfricasTalking(api_key=AT_KEY).start()
        cleanup.callback(at.stop)
        web_port = _free_port()
        env = stack_env(opts, redis_server.url, database.url, web_port, daraja=daraja, at=at)
        seed(database.url, env, opts.citizens, log_dir)
        web = _spawn(web_argv(web_port), env, log_dir / "web.log")
        cleanup.callback(_stop, web)
        url = f"http://127.0.0.1:{web_port}/ussd/africastalking"
        # The web first: many workers importing at once would starve its start on 2 cores.
        health = f"http://127.0.0.1:{web_port}/healthz"
        _wait(lambda: requests.get(health, timeout=2).ok, "web", 120)
        # N workers, taken in turn from the Procfile's worker lines (their queue orders differ).
        kinds = worker_argvs()
        workers = [
            _spawn(kinds[i % len(kinds)], env, log_dir / f"worker-{i}.log")
            for i in range(opts.workers)
        ]
        for worker in workers:
            cleanup.callback(_stop, worker)
        _wait(lambda: _workers_up(redis_server.url, opts.workers), "workers", 180)

        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        stop = context.Event()
        loader = context.Process(target=load_process, args=(url, opts, results, stop))
        loader.start()
        cleanup.callback(loader.kill)
        _note(f"stack up (logs in {log_dir}); probe idle {opts.idle_seconds:.0f} s, then citizens")
        kind, burst_started, _ = results.get(timeout=opts.idle_seconds + 60)
        cpu_start = _cpu(redis_server, database, web, workers)
        kind, _, raw = results.get(timeout=60 + opts.citizens / opts.rate * 3)
        assert kind == "citizens"
        citizens = [_citizen(c) for c in raw]
        _note(f"{sum(c.started for c in citizens)}/{len(citizens)} citizens started a payment")
        dial_ended = max((h.at + h.seconds for c in citizens for h in c.hops), default=0.0)
        settled_at = _wait_for_answers(citizens, daraja, at, opts.settle_timeout)
        cpu_end = _cpu(redis_server, database, web, workers)
        _note("every citizen answered; collecting the probe")
        stop.set()
        kind, _, probe_raw = results.get(timeout=120)
        loader.join(30)
        probe = [Hop(**h) for h in probe_raw]
        obs = Observations(
            citizens=citizens,
            charges=_charges(daraja),
            sms=[
                Sms(r.form.get("to", ""), r.form.get("message", ""), r.received_at)
                for r in list(at.received)
            ],
            payments=_payments(database.url),
            probe_idle=[h for h in probe if h.at < burst_started],
            probe_busy=[h for h in probe if burst_started <= h.at <= settled_at],
        )
    result = tally(obs)
    burst = max(settled_at - burst_started, 1e-9)
    figures = _figures(
        obs, result, cpu_start, cpu_end, burst=burst, dial=dial_ended - burst_started
    )
    return Report(
        options={k: v for k, v in asdict(opts).items() if k not in {"realism", "extra_env"}},
        machine=machine(),
        tally=result,
        observations=obs,
        burst_seconds=burst,
        dial_seconds=dial_ended - burst_started,
        settle_seconds=settled_at - dial_ended,
        figures=figures,
    )


def _note(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def _spawn(argv: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - the Procfile's own argv
            argv, cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def _workers_up(redis_url: str, n: int) -> bool:
    import redis  # noqa: PLC0415

    client = redis.Redis.from_url(redis_url)
    try:
        return len(list(client.scan_iter(match="rq:worker:*", count=1000))) >= n
    finally:
        client.close()


def _cpu(
    redis_server: PrivateRedis, database: PrivateDatabase,
    web: subprocess.Popen[bytes], workers: list[subprocess.Popen[bytes]],
) -> dict[str, dict[int, float]]:  # fmt: skip
    return {
        "redis": (
            {redis_server.process.pid: cpu_seconds(redis_server.process.pid)}
            if redis_server.process is not None
            else {}
        ),
        "sql": {pid: cpu_seconds(pid) for pid in database.backend_pids()},
        "web": {pid: cpu_seconds(pid) for pid in group_pids(web.pid)},
        "workers": {pid: cpu_seconds(pid) for worker in workers for pid in group_pids(worker.pid)},
    }


def _wait_for_answers(
    citizens: list[Citizen], daraja: FakeDaraja, at: FakeAfricasTalking, timeout: float
) -> float:
    """Wait until every started citizen has an SMS answer and no callback is still due."""
    waiting = {c.phone for c in citizens if c.started}
    deadline = time.monotonic() + timeout
    last_answer = time.time()
    next_note = time.monotonic() + 10
    while time.monotonic() < deadline:
        answered = {r.form.get("to", "") for r in list(at.received)}
        if answered:
            last_answer = max(r.received_at for r in list(at.received))
        with daraja.state.lock:
            due = len(daraja.state.due_callbacks)
        if waiting <= answered and not due:
            break
        if time.monotonic() > next_note:
            next_note = time.monotonic() + 10
            _note(
                f"waiting: {len(waiting - answered)} citizens without an SMS, {due} callbacks due"
            )
        time.sleep(0.5)
    time.sleep(2.0)  # a duplicate would come right after the first: give it a chance
    return last_answer


def _charges(daraja: FakeDaraja) -> list[Charge]:
    with daraja.state.lock:
        pushes = list(daraja.state.pushes)
    return [
        Charge(
            phone="+" + str(c.request["PhoneNumber"]),
            reference=str(c.request["AccountReference"]),
            succeeded=c.result_code == 0,
            told_at=c.told_at,
            callback=c.callback,
            pushed_at=c.received_at,
        )
        for c in pushes
    ]


def _payments(database_url: str) -> list[tuple[str, float]]:
    from civic.sql_tables import assessments, payments  # noqa: PLC0415

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(assessments.c.reference, payments.c.paid_at).join(
                    assessments, assessments.c.id == payments.c.assessment_id
                )
            ).all()
    finally:
        engine.dispose()
    return [(str(ref), paid_at.timestamp()) for ref, paid_at in rows]


def _figures(
    obs: Observations, result: Tally, start: dict[str, dict[int, float]],
    end: dict[str, dict[int, float]], *, burst: float, dial: float,
) -> dict[str, float]:  # fmt: skip
    hops = [h for c in obs.citizens for h in c.hops]
    paid = sorted(at for _, at in obs.payments)
    sms = sorted(s.at for s in obs.sms)
    figures = {
        "citizen_hops": len(hops),
        "citizen_hop_errors": sum(1 for h in hops if not h.ok),
        "citizen_hops_per_s": len(hops) / max(dial, 1e-9),
        "citizen_hop_p50_ms": percentile([h.seconds for h in hops], 50) * 1000,
        "citizen_hop_p99_ms": percentile([h.seconds for h in hops], 99) * 1000,
        "probe_idle_p99_ms": percentile([h.seconds for h in obs.probe_idle], 99) * 1000,
        "probe_busy_p99_ms": percentile([h.seconds for h in obs.probe_busy], 99) * 1000,
        "probe_idle_hops": len(obs.probe_idle),
        "probe_busy_hops": len(obs.probe_busy),
        "probe_busy_errors": sum(1 for h in obs.probe_busy if not h.ok),
        "settled_per_s": len(paid) / max(paid[-1] - paid[0], 1e-9) if len(paid) > 1 else 0.0,
        "sms_per_s": len(sms) / max(sms[-1] - sms[0], 1e-9) if len(sms) > 1 else 0.0,
        "receipt_p50_s": percentile(result.receipt_seconds, 50),
        "receipt_p99_s": percentile(result.receipt_seconds, 99),
        "receipt_max_s": max(result.receipt_seconds, default=0.0),
    }
    # How long a citizen waits for the PIN prompt after the END (PAYMENT_PUSH_DELAY_SECONDS
    # included): the push backlog when workers are too few.
    ended = {c.phone: c.hops[-1].at + c.hops[-1].seconds for c in obs.citizens if c.started}
    waits = [ch.pushed_at - ended[ch.phone] for ch in obs.charges if ch.phone in ended]
    figures["push_wait_p50_s"] = percentile(waits, 50)
    figures["push_wait_p99_s"] = percentile(waits, 99)
    # Which step of the journey is slow: 0 dial, 1 pay a tax, 2 road tax, 3 lookup, 4 pay, 5 start.
    for step in range(6):
        took = [c.hops[step].seconds for c in obs.citizens if len(c.hops) > step]
        figures[f"step{step}_p50_ms"] = percentile(took, 50) * 1000
        figures[f"step{step}_p99_ms"] = percentile(took, 99) * 1000
    for name in ("redis", "sql", "web", "workers"):
        used = sum(cpu - start[name].get(pid, 0.0) for pid, cpu in end[name].items())
        figures[f"{name}_cpu_pct"] = 100 * used / burst
    return figures


def machine() -> str:
    """Return a one-line description of this machine and its load."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python "
        f"{platform.python_version()}, load {load}"
    )


def summary(report: Report) -> Iterator[str]:
    """The human report, ending with the one-line verdict."""
    t, f = report.tally, report.figures
    yield f"machine: {report.machine}"
    yield (
        f"stack: web = Procfile ({' '.join(procfile()['web'][1:])}); "
        f"{report.options['workers']} workers taken in turn from "
        f"{', '.join(n for n, a in procfile().items() if a[1:4] == ['-m', 'gateway', 'worker'])}"
        f"; database {report.options['database']}"
    )
    yield (
        f"burst: {report.options['citizens']} citizens at {report.options['rate']}/s, dialled in "
        f"{report.dial_seconds:.1f} s, last answer {report.settle_seconds:.1f} s later"
    )
    yield (
        f"hops: {f['citizen_hops']:.0f} citizen hops, {f['citizen_hops_per_s']:.1f}/s, p50 "
        f"{f['citizen_hop_p50_ms']:.1f} ms, p99 {f['citizen_hop_p99_ms']:.1f} ms, "
        f"{f['citizen_hop_errors']:.0f} errors"
    )
    yield "hop p50/p99 ms by step (dial, tax, road, lookup, pay, start): " + ", ".join(
        f"{f[f'step{i}_p50_ms']:.0f}/{f[f'step{i}_p99_ms']:.0f}" for i in range(6)
    )
    yield (
        f"probe: idle p99 {f['probe_idle_p99_ms']:.1f} ms ({f['probe_idle_hops']:.0f} hops), "
        f"busy p99 {f['probe_busy_p99_ms']:.1f} ms ({f['probe_busy_hops']:.0f} hops, "
        f"{f['probe_busy_errors']:.0f} errors), ratio "
        f"{f['probe_busy_p99_ms'] / max(f['probe_idle_p99_ms'], 1e-9):.2f}x (target <= 2x)"
    )
    yield (
        f"payments: {t.payments} started, {t.succeeded} charged, {t.failed} failed at the "
        f"provider, {t.receipts} receipts; settled {f['settled_per_s']:.1f}/s; SMS "
        f"{f['sms_per_s']:.1f}/s"
    )
    yield (
        f"PIN prompt after the END: p50 {f['push_wait_p50_s']:.1f} s, p99 "
        f"{f['push_wait_p99_s']:.1f} s (the push delay, "
        f"{report.options['push_delay']:.0f} s, included)"
    )
    yield (
        f"receipt after the provider's confirmation: p50 {f['receipt_p50_s']:.2f} s, p99 "
        f"{f['receipt_p99_s']:.2f} s, max {f['receipt_max_s']:.2f} s (target p99 <= 10 s)"
    )
    yield (
        f"CPU over the burst (% of one core): redis {f['redis_cpu_pct']:.0f}, sql "
        f"{f['sql_cpu_pct']:.0f}, web {f['web_cpu_pct']:.0f}, workers {f['workers_cpu_pct']:.0f}"
    )
    if t.unanswered:
        yield f"unanswered: {t.unanswered} citizens got neither a receipt nor a failure SMS"
    yield (
        f"deadline: {t.payments} payments, lost {t.lost}, double {t.double}, duplicate "
        f"receipts {t.duplicate_receipts}, receipt p99 {f['receipt_p99_s']:.1f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one deadline day and print the report; exit 1 when anything was lost or doubled."""
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid>: where is it stuck
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--citizens", type=int, default=int(env.get("DEADLINE_CITIZENS", 2000)))
    parser.add_argument("--rate", type=float, default=float(env.get("DEADLINE_RATE", 20)))
    parser.add_argument("--workers", type=int, default=int(env.get("DEADLINE_WORKERS", 12)))
    parser.add_argument("--dialers", type=int, default=32)
    parser.add_argument("--database", choices=("postgres", "sqlite", "auto"), default="auto")
    parser.add_argument("--settle-timeout", type=float, default=300.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--log-dir", default="", help="keep the stack's logs here")
    args = parser.parse_args(argv)
    database = args.database
    if database == "auto":
        database = "postgres" if postgres_available() else "sqlite"
    opts = Options(
        citizens=args.citizens,
        rate=args.rate,
        workers=args.workers,
        dialers=args.dialers,
        database=database,
        settle_timeout=args.settle_timeout,
        log_dir=args.log_dir,
    )
    report = run(opts)
    for line in summary(report):
        print(line, flush=True)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"options": report.options, "machine": report.machine, **report.figures,
                 **{k: v for k, v in asdict(report.tally).items() if k != "receipt_seconds"}},
                indent=2,
            )
        )  # fmt: skip
    t = report.tally
    return 1 if t.lost or t.double or t.duplicate_receipts else 0


if __name__ == "__main__":
    sys.exit(main())
