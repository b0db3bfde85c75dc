"""Counters for /metrics, cheap on the hop path and summed over every process.

A hop costs a lock and a few dict increments in this process: no Redis round trip. A daemon
thread flushes the deltas every METRICS_FLUSH_SECONDS with one pipelined HINCRBY batch, so
/metrics (served by any gunicorn worker of any web node) reads totals of all processes from
Redis; the scrape also flushes its own process first. Deltas that cannot be flushed (Redis
down) are kept and sent later. What the workers count (SMS statuses) is counted inside the
Lua scripts that move the messages; payments and queue depths are read at scrape time.

Trade-off: a process killed with SIGKILL loses at most one flush period of hop counts.
"""

from __future__ import annotations

import atexit
import bisect
import logging
import os
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Final

import redis

from runtime import keys

log = logging.getLogger(__name__)


def hops_key() -> str:
    """Return the hash of hop counts, field "<screen>|<outcome>"."""
    return keys.key("metrics", "ussd", "hops")


def latency_key() -> str:
    """Return the hash of hop latencies, field = bucket upper bound, plus "sum"."""
    return keys.key("metrics", "ussd", "latency")


def rejections_key() -> str:
    """Return the hash of rate-limit rejections, field = limit name."""
    return keys.key("metrics", "rejections")


# Seconds. A hop's target is well under 50 ms; aggregators give 10-15 s.
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BUCKET_NAMES: Final = (*(f"{b:g}" for b in LATENCY_BUCKETS), "+Inf")


class Metrics:
    """This process's counter deltas, flushed to Redis."""

    def __init__(self, client: redis.Redis, *, flush_seconds: float = 5.0) -> None:
        self._redis = client
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._latency_sum = 0.0
        self._flusher_pid = 0

    def hop(self, screen: str, outcome: str, seconds: float) -> None:
        """Count one USSD hop and its latency."""
        bucket = _BUCKET_NAMES[bisect.bisect_left(LATENCY_BUCKETS, seconds)]
        with self._lock:
            counts = self._counts
            key = (hops_key(), f"{screen}|{outcome}")
            counts[key] = counts.get(key, 0) + 1
            key = (latency_key(), bucket)
            counts[key] = counts.get(key, 0) + 1
            self._latency_sum += seconds
        if self._flusher_pid != os.getpid():
            self._start_flusher()

    def rejected(self, limit: str, count: int = 1) -> None:
        """Count a request refused by a rate limit (hook for every limiter)."""
        with self._lock:
            key = (rejections_key(), limit)
            self._counts[key] = self._counts.get(key, 0) + count
        if self._flusher_pid != os.getpid():
            self._start_flusher()

    def flush(self) -> None:
        """Send this process's deltas to Redis; keep them for later when Redis fails."""
        with self._lock:
            counts, self._counts = self._counts, {}
            latency, self._latency_sum = self._latency_sum, 0.0
        if not counts and not latency:
            return
        pipe = self._redis.pipeline(transaction=False)
        for (key, name), value in counts.items():
            pipe.hincrby(key, name, value)
        if latency:
            pipe.hincrbyfloat(latency_key(), "sum", latency)
        try:
            pipe.execute()
        except redis.RedisError:
            with self._lock:
                for pending, value in counts.items():
                    self._counts[pending] = self._counts.get(pending, 0) + value
                self._latency_sum += latency

    def _start_flusher(self) -> None:
        # Once per process (a fork needs its own thread); 0 means "only at scrape time".
        with self._lock:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
        if self._flush_seconds <= 0:
            return
        ref = weakref.ref(self)
        thread = threading.Thread(
            target=_flush_loop, args=(ref, self._flush_seconds), name="metrics-flush", daemon=True
        )
        thread.start()
        atexit.register(_flush_quietly, ref)


def _flush_loop(ref: weakref.ref[Metrics], period: float) -> None:
    stop = threading.Event()
    while not stop.wait(period):
        metrics = ref()
        if metrics is None:  # the app that owned it is gone (tests build many)
            return
        _flush_quietly(ref)
        del metrics


def _flush_quietly(ref: weakref.ref[Metrics]) -> None:
    metrics = ref()
    if metrics is None:
        return
    try:
        metrics.flush()
    except Exception:  # a metrics hiccup must never kill the thread or the exit
        log.warning("metrics flush failed", exc_info=True)


# --- Prometheus text exposition -----------------------------------------------------------


class Exposition:
    """Build a Prometheus text-format page, one family at a time."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        """Start a metric family."""
        self._lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Add one sample."""
        if labels:
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            name = f"{name}{{{inner}}}"
        self._lines.append(f"{name} {_number(value)}")

    def counters(
        self, name: str, help_text: str, rows: Iterable[tuple[Mapping[str, str], float]]
    ) -> None:
        """Add a counter family from (labels, value) rows."""
        self.family(name, "counter", help_text)
        for labels, value in rows:
            self.sample(name, value, labels)

    def text(self) -> str:
        """Return the page."""
        return "\n".join(self._lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def hop_rows(raw: Mapping[bytes, bytes]) -> list[tuple[dict[str, str], float]]:
    """Return (labels, count) of the hop counters hash."""
    rows = []
    for field, value in sorted(raw.items()):
        screen, _, outcome = field.decode().partition("|")
        rows.append(({"screen": screen or "-", "outcome": outcome}, float(value)))
    return rows


def add_latency(page: Exposition, raw: Mapping[bytes, bytes]) -> None:
    """Add the hop latency histogram from its hash (per-bucket counts, made cumulative)."""
    name = "guichet_ussd_hop_seconds"
    page.family(name, "histogram", "Time to answer a USSD hop at the edge.")
    fields = {k.decode(): v for k, v in raw.items()}
    total = 0
    for bucket in _BUCKET_NAMES:
        total += int(fields.get(bucket, b"0"))
        page.sample(f"{name}_bucket", total, {"le": bucket})
    page.sample(f"{name}_sum", float(fields.get("sum", b"0")))
    page.sample(f"{name}_count", total)
