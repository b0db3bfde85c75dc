"""The job port's two implementations keep the same rules: delays, job ids, periodic ticks."""

from __future__ import annotations

import importlib

import pytest
import redis
from flask import Flask
from rq import Queue
from rq.registry import ScheduledJobRegistry

from runtime import keys
from runtime.jobs import InlineJobs, RqJobs, job_path, resolve_job, schedule_periodic
from sms.callbacks import JOBS
from tests.gateway import sample_jobs


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def ran(connection: redis.Redis, key: str) -> list[bytes]:
    return list(connection.lrange(key, 0, -1))


def test_an_inline_job_id_is_refused_while_it_waits_and_free_once_run_without_result(
    app: Flask, redis_client: redis.Redis
) -> None:
    clock = Clock()
    jobs = InlineJobs(clock=clock, tick_seconds=None)
    remember = sample_jobs.remember
    assert jobs.enqueue("sms", remember, "ran", "1", delay_seconds=5, job_id="d", result_ttl=0)
    assert not jobs.enqueue("sms", remember, "ran", "2", job_id="d", result_ttl=0)
    assert jobs.run_due() == 0
    clock.now += 5
    assert jobs.run_due() == 1
    assert ran(redis_client, "ran") == [b"1"]
    # result_ttl=0: rq forgets a finished job at once, so its id may be used again.
    assert jobs.enqueue("sms", remember, "ran", "3", job_id="d", result_ttl=0)
    assert ran(redis_client, "ran") == [b"1", b"3"]


def test_an_inline_finished_job_keeps_its_id_for_its_result_ttl(
    app: Flask, redis_client: redis.Redis
) -> None:
    clock = Clock()
    jobs = InlineJobs(clock=clock, tick_seconds=None)
    assert jobs.enqueue("sms", sample_jobs.remember, "ran", "1", job_id="k", result_ttl=60)
    clock.now += 59
    assert not jobs.enqueue("sms", sample_jobs.remember, "ran", "2", job_id="k", result_ttl=60)
    clock.now += 1
    assert jobs.enqueue("sms", sample_jobs.remember, "ran", "3", job_id="k", result_ttl=60)
    assert ran(redis_client, "ran") == [b"1", b"3"]


def test_rq_jobs_take_the_function_and_refuse_a_waiting_job_id(
    app: Flask, redis_client: redis.Redis
) -> None:
    jobs = RqJobs(redis_client)
    assert jobs.enqueue("sms", sample_jobs.remember, "ran", "1", delay_seconds=5, job_id="d")
    assert not jobs.enqueue("sms", sample_jobs.remember, "ran", "2", job_id="d")
    [job_id] = ScheduledJobRegistry(
        queue=Queue(keys.queue("sms"), connection=redis_client)
    ).get_job_ids()
    job = Queue(keys.queue("sms"), connection=redis_client).fetch_job(job_id)
    assert job is not None
    assert job.func_name == "tests.gateway.sample_jobs.remember"


@pytest.mark.parametrize("now", [1_000_000.0, 1_000_019.5])
def test_a_periodic_job_gets_one_tick_per_bucket(
    app: Flask, redis_client: redis.Redis, now: float
) -> None:
    clock = Clock()
    clock.now = now
    jobs = InlineJobs(clock=clock, tick_seconds=None)
    for _ in range(2):  # two processes start and ask for the same tick
        schedule_periodic(jobs, "sms", sample_jobs.tick, 60, key="tick", now=now)
    clock.now = (now // 60 + 1) * 60  # the next bucket starts
    jobs.run_due()
    clock.now += 1  # a tick is never less than 1 s ahead
    jobs.run_due()
    assert int(redis_client.get("ticks:60") or 0) == 1


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("menus.actions.civic", "ALERT_JOB"),
        ("payments.service", "PUSH_JOB"),
        ("payments.service", "CALLBACK_JOB"),
        ("sms.queues", "DELIVER_JOB"),
        ("sms.queues", "DRAIN_JOB"),
    ],
)
def test_every_job_still_named_by_path_is_a_job_function(module: str, name: str) -> None:
    # These callers sit below their job's module (an import would close a cycle): the path is
    # checked here instead of by the import.
    path = getattr(importlib.import_module(module), name)
    assert job_path(resolve_job(path)) == path


def test_the_sms_callback_jobs_are_job_functions() -> None:
    assert JOBS  # the table is not empty
    for path in JOBS.values():
        assert job_path(resolve_job(path)) == path
