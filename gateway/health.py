"""Liveness (`/healthz`), readiness (`/readyz`) and Prometheus metrics (`/metrics`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Final

import redis
from flask import Blueprint, Response, current_app, jsonify, request
from rq import Queue
from sqlalchemy.exc import SQLAlchemyError

from civic.ports import Backend
from gateway.callback_auth import CallbackGate
from gateway.config import Settings
from gateway.metrics import (
    Exposition,
    Metrics,
    add_latency,
    hop_rows,
    hops_key,
    latency_key,
    rejections_key,
)
from gateway.metrics_access import metrics_refusal
from gateway.queues import QueueNames
from gateway.rq_liveness import queues_without_scheduler, queues_without_worker
from gateway.services import services_of
from payments.store import PaymentStore
from personal_data.retention import counts_key as retention_counts_key
from runtime import keys
from runtime.jobs import QueueConnection
from sms.delivery import holds_metric_key
from sms.store import refused_counts_key, status_counts_key

blueprint = Blueprint("health", __name__)

# Each readiness check gets this long; a hung one answers "timeout" instead of hanging us.
READY_TIMEOUT_SECONDS: Final = 2.0
# /readyz writes this key (it expires by itself) to learn whether Redis takes writes.
READY_PROBE_TTL_MS: Final = 10_000
_TEXT: Final = {"Content-Type": "text/plain; charset=utf-8"}
PROMETHEUS_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


@blueprint.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    """Answer 200 while the process is up."""
    return "ok\n", 200, _TEXT


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Answer 200 when Redis takes writes, databases and rq answer, else 503 naming which."""
    services = services_of(current_app)
    client = services.get(redis.Redis)
    checks: dict[str, Callable[[], object]] = {
        "redis": lambda: _redis_takes_writes(client),
        "database": services.get(PaymentStore).ping,
        "back_office": services.get(Backend).ping,  # type: ignore[type-abstract]
    }
    if not services.get(Settings).emulate_redis:  # the emulation runs jobs inline
        queues = services.get(QueueConnection).client
        names = {keys.queue(name): name for name in QueueNames.all()}
        checks["workers"] = lambda: _every_queue(names, queues_without_worker(queues, [*names]))
        checks["scheduler"] = lambda: _every_queue(
            names, queues_without_scheduler(queues, [*names])
        )
    results = _run_checks(checks)
    ready = all(result == "ok" for result in results.values())
    body = jsonify(status="ready" if ready else "unready", checks=results)
    return body, 200 if ready else 503


class NotReadyError(Exception):
    """A readiness check's finding, shown as is (`error: none alive for payments`)."""


def _redis_takes_writes(client: redis.Redis) -> None:
    # PING answers on a replica, a full (maxmemory, noeviction) or a write-refusing master
    # (min-replicas-to-write, MISCONF); a write with a short expiry tells the truth.
    client.set(keys.key("health", "readyz"), "1", px=READY_PROBE_TTL_MS)


def _every_queue(names: dict[str, str], missing: list[str]) -> None:
    # rq's queue names carry the installation's prefix; the answer names ours.
    if missing:
        raise NotReadyError(f"none alive for {', '.join(names[queue] for queue in missing)}")


def _run_checks(checks: dict[str, Callable[[], object]]) -> dict[str, str]:
    # In parallel, each bounded: a blackholed database must not make /readyz itself time out.
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="readyz")
    futures = {name: pool.submit(check) for name, check in checks.items()}
    wait(futures.values(), timeout=READY_TIMEOUT_SECONDS)
    pool.shutdown(wait=False, cancel_futures=True)
    results = {}
    for name, future in futures.items():
        if not future.done():
            results[name] = "timeout"
        elif (error := future.exception()) is not None:
            results[name] = f"error: {_describe(error)}"
        else:
            results[name] = "ok"
    return results


def _describe(error: BaseException) -> str:
    if isinstance(error, NotReadyError):
        return str(error)
    name = type(error).__name__
    if type(error) is redis.ResponseError:
        # Redis names why it refused in the reply's first word (NOREPLICAS, MISCONF, ...).
        return f"{name} {str(error).split(' ', 1)[0]}"
    return name


@blueprint.get("/metrics")
def metrics() -> Response:
    """Serve the counters of every process in the Prometheus text format."""
    services = services_of(current_app)
    refused = metrics_refusal(services.get(Settings), services.get(CallbackGate).clients, request)
    if refused is not None:
        response = Response("metrics: not allowed\n", status=refused, content_type="text/plain")
        if refused == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    page = Exposition()
    started = time.perf_counter()
    up = {"redis": _redis_families(page, services.get(Metrics), services.get(redis.Redis))}
    up["database"] = _payment_families(page, services.get(PaymentStore))
    page.family("guichet_metrics_source_up", "gauge", "1 when the source answered this scrape.")
    for source, ok in up.items():
        page.sample("guichet_metrics_source_up", 1 if ok else 0, {"source": source})
    page.family("guichet_metrics_scrape_seconds", "gauge", "Time to build this page.")
    page.sample("guichet_metrics_scrape_seconds", round(time.perf_counter() - started, 6))
    return Response(page.text(), status=200, content_type=PROMETHEUS_TYPE)


def _redis_families(page: Exposition, counters: Metrics, client: redis.Redis) -> bool:
    try:
        counters.flush()
        pipe = client.pipeline(transaction=False)
        for key in (
            hops_key(),
            latency_key(),
            rejections_key(),
            status_counts_key(),
            refused_counts_key(),
        ):
            pipe.hgetall(key)
        pipe.get(holds_metric_key())
        pipe.hgetall(retention_counts_key())
        hops, latency, rejections, sms, refused, holds, retention = pipe.execute()
        queues = services_of(current_app).get(QueueConnection).client
        depths = [
            (name, _queue_depths(Queue(keys.queue(name), connection=queues)))
            for name in QueueNames.all()
        ]
    except redis.RedisError:
        return False
    page.counters("guichet_ussd_hops_total", "USSD hops by screen and outcome.", hop_rows(hops))
    add_latency(page, latency)
    page.counters(
        "guichet_rate_limit_rejections_total",
        "Requests refused by a rate limit, by limit.",
        [({"limit": k.decode()}, float(v)) for k, v in sorted(rejections.items())],
    )
    page.counters(
        "guichet_sms_total",
        "SMS messages that reached each status.",
        [({"status": k.decode()}, float(v)) for k, v in sorted(sms.items())],
    )
    page.counters(
        "guichet_sms_refused_total",
        "SMS refused before any provider (budget, STOP, destination), by template and reason.",
        [
            ({"template": template, "reason": reason}, float(v))
            for (template, _, reason), v in (
                (k.decode().partition("|"), v) for k, v in sorted(refused.items())
            )
        ],
    )
    page.counters("guichet_sms_holds_total", "Provider account holds.", [({}, float(holds or 0))])
    page.counters(
        "guichet_retention_total",
        "Records deleted or anonymised by the retention job, by class.",
        [({"class": k.decode()}, float(v)) for k, v in sorted(retention.items())],
    )
    page.family("guichet_rq_jobs", "gauge", "rq jobs by queue and state.")
    for name, states in depths:
        for state, count in states.items():
            page.sample("guichet_rq_jobs", count, {"queue": name, "state": state})
    return True


def _queue_depths(queue: Queue) -> dict[str, int]:
    return {
        "queued": int(queue.count),
        "scheduled": int(queue.scheduled_job_registry.count),
        "started": int(queue.started_job_registry.count),
        "failed": int(queue.failed_job_registry.count),
    }


def _payment_families(page: Exposition, store: PaymentStore) -> bool:
    try:
        counts = store.intents.count_by_status()
    except SQLAlchemyError:
        return False
    page.family("guichet_payment_intents", "gauge", "Payment intents by status.")
    for status, count in sorted(counts.items()):
        page.sample("guichet_payment_intents", count, {"status": status})
    return True


@blueprint.after_app_request
def count_rejections(response: Response) -> Response:
    """Count every 429 by endpoint (the API limits answer 429; USSD counts its END itself)."""
    if response.status_code == 429:
        services_of(current_app).get(Metrics).rejected(f"http:{request.endpoint or 'unknown'}")
    return response
