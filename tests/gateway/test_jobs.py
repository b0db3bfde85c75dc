"""Effects on rq really run in a real rq worker; inline, they run now or once their delay passed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry

import runtime
from gateway.emulation import create_emulated_app
from gateway.jobs import DEFAULT_RETRY, EffectEnqueuer, UnknownQueueError, rq_job_id
from gateway.queues import QueueNames
from gateway.worker import JOB_MODULES
from menus.registry import Effect, Enqueuer
from payments.queues import PaymentJobs
from runtime import keys
from runtime.jobs import InlineJobs, Jobs, RqJobs, job_path, resolve_job
from sms.request_alerts import send_request_alert
from tests.gateway import sample_jobs

REMEMBER = "tests.gateway.sample_jobs.remember"


@pytest.fixture
def worker_connection(redis_url: str, app: Flask) -> Iterator[redis.Redis]:
    """Yield a connection for rq (its own: rq adjusts socket timeouts) once the app is built."""
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def work(connection: redis.Redis, *names: str) -> None:
    """Run a real rq worker on `names` until the queues are empty."""
    queues = [Queue(keys.queue(name), connection=connection) for name in names or QueueNames.all()]
    SimpleWorker(queues, connection=connection).work(burst=True)


def rq_enqueuer(retry_intervals: tuple[int, ...] = DEFAULT_RETRY) -> EffectEnqueuer:
    jobs = RqJobs(runtime.current().get(redis.Redis))
    return EffectEnqueuer(jobs, retry_intervals=retry_intervals)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def ran(connection: redis.Redis, key: str) -> list[str]:
    return [item.decode() for item in connection.lrange(key, 0, -1)]


def test_the_app_wires_the_rq_enqueuer(app: Flask) -> None:
    assert isinstance(runtime.current().get(Enqueuer), EffectEnqueuer)  # type: ignore[type-abstract]
    assert isinstance(runtime.current().get(Jobs), RqJobs)  # type: ignore[type-abstract]


def test_an_effect_runs_in_a_real_worker(worker_connection: redis.Redis) -> None:
    enqueuer = rq_enqueuer()
    enqueuer.enqueue(Effect(queue=QueueNames.SMS, func=REMEMBER, args=("ran", "sms-1")))
    assert Queue(keys.queue(QueueNames.SMS), connection=worker_connection).count == 1
    work(worker_connection)
    assert ran(worker_connection, "ran") == ["sms-1"]


def test_a_job_id_is_enqueued_once(worker_connection: redis.Redis) -> None:
    enqueuer = rq_enqueuer()
    effect = Effect(queue="payments", func=REMEMBER, args=("ran", "push"), job_id="push:ab:12")
    enqueuer.enqueue(effect)
    enqueuer.enqueue(effect)  # a retried hop asks again
    queue = Queue(keys.queue("payments"), connection=worker_connection)
    assert queue.job_ids == [keys.job_id(rq_job_id("push:ab:12"))]
    work(worker_connection)
    assert ran(worker_connection, "ran") == ["push"]


def test_job_ids_rq_refuses_are_mapped_stably() -> None:
    assert rq_job_id("sms-42_a") == "sms-42_a"
    assert rq_job_id("push:ab:12") == rq_job_id("push:ab:12") != rq_job_id("push:ab:13")
    assert rq_job_id("push:ab:12").startswith("h-")


def test_a_delayed_effect_waits_in_the_scheduled_registry(worker_connection: redis.Redis) -> None:
    enqueuer = rq_enqueuer()
    enqueuer.enqueue(
        Effect(
            queue="payments", func=REMEMBER, args=("ran", "later"), job_id="l1", delay_seconds=30
        )
    )
    queue = Queue(keys.queue("payments"), connection=worker_connection)
    assert keys.job_id("l1") not in queue.job_ids
    assert keys.job_id("l1") in ScheduledJobRegistry(queue=queue).get_job_ids()
    work(worker_connection)
    assert ran(worker_connection, "ran") == []


def test_a_transient_failure_is_retried(worker_connection: redis.Redis) -> None:
    enqueuer = rq_enqueuer(retry_intervals=(0, 0))
    enqueuer.enqueue(Effect(queue="sms", func="tests.gateway.sample_jobs.flaky", args=("tries",)))
    work(worker_connection)
    assert int(worker_connection.get("tries") or 0) == 2


def test_jobs_carry_the_default_retry_policy(worker_connection: redis.Redis) -> None:
    rq_enqueuer().enqueue(Effect(queue="default", func=REMEMBER, args=("ran", "x")))
    job = Queue(keys.queue("default"), connection=worker_connection).jobs[0]
    assert job.retries_left == 3
    assert job.retry_intervals == [10, 60, 300]


def test_an_effect_on_a_queue_nobody_listens_on_is_refused(app: Flask) -> None:
    enqueuer = rq_enqueuer()
    with pytest.raises(UnknownQueueError):
        enqueuer.enqueue(Effect(queue="reports", func=REMEMBER, args=("ran", "x")))


def test_the_inline_enqueuer_runs_delayed_jobs_after_their_delay_once_per_job_id(
    app: Flask, redis_client: redis.Redis
) -> None:
    clock = Clock()
    jobs = InlineJobs(clock=clock, tick_seconds=None)
    inline = EffectEnqueuer(jobs)
    inline.enqueue(Effect(queue="sms", func=REMEMBER, args=("ran", "a"), delay_seconds=60))
    inline.enqueue(Effect(queue="sms", func=REMEMBER, args=("ran", "b"), job_id="j1"))
    inline.enqueue(Effect(queue="sms", func=REMEMBER, args=("ran", "b"), job_id="j1"))
    inline.enqueue(Effect(queue="sms", func="tests.gateway.sample_jobs.flaky", args=("t",)))
    assert ran(redis_client, "ran") == ["b"]  # the delayed one waits, as on rq
    assert int(redis_client.get("t") or 0) == 1  # a failing job is logged, not raised
    clock.now += 59
    jobs.run_due()
    assert ran(redis_client, "ran") == ["b"]
    clock.now += 1
    jobs.run_due()
    assert ran(redis_client, "ran") == ["b", "a"]
    assert int(redis_client.get("t") or 0) == 2  # retried after the first interval (10 s)


def test_a_slow_inline_effect_never_holds_the_hop(app: Flask, redis_client: redis.Redis) -> None:
    jobs = InlineJobs(tick_seconds=None)
    inline = EffectEnqueuer(jobs)
    slow = Effect(
        queue="payments",
        func="tests.gateway.sample_jobs.wait_for",
        args=("pin", 30),
        timeout_seconds=300,
    )
    inline.enqueue(slow)  # returns while the job still waits: inline, this would deadlock
    redis_client.rpush("pin", "typed")
    [thread] = jobs.threads
    thread.join(timeout=30)
    assert ran(redis_client, "pin:done") == ["1"]


def test_the_emulation_wires_the_inline_enqueuer() -> None:
    create_emulated_app()
    try:
        assert isinstance(runtime.current().get(Jobs), InlineJobs)  # type: ignore[type-abstract]
    finally:
        runtime.uninstall()


def test_job_paths_must_be_dotted() -> None:
    with pytest.raises(ValueError, match="dotted"):
        resolve_job("remember")
    assert callable(resolve_job(REMEMBER))


def test_jobs_are_named_by_reference() -> None:
    assert job_path(sample_jobs.remember) == REMEMBER
    assert resolve_job(job_path(sample_jobs.remember)) is sample_jobs.remember
    with pytest.raises(ValueError, match="module-level"):
        job_path(lambda: None)


def test_the_request_alert_job_menus_names_by_reference_is_preloaded_by_the_worker() -> None:
    # menus.actions.civic passes the function itself (sms sits below menus): its module must
    # be one the preload worker imports, and its path must lead back to it.
    assert send_request_alert.__module__ in JOB_MODULES
    assert resolve_job(job_path(send_request_alert)) is send_request_alert


def test_an_urgent_payments_job_goes_before_the_waiting_ones(
    worker_connection: redis.Redis,
) -> None:
    # A provider's callback must not wait behind a deadline's backlog of pushes (issue 19).
    payments = PaymentJobs(RqJobs(runtime.current().get(redis.Redis)))
    payments.enqueue(REMEMBER, "ran", "push-1")
    payments.enqueue(REMEMBER, "ran", "push-2")
    payments.enqueue(REMEMBER, "ran", "callback", urgent=True)
    work(worker_connection, "payments")
    assert ran(worker_connection, "ran") == ["callback", "push-1", "push-2"]
