"""The job port's two implementations keep the same rules: delays, job ids, periodic ticks."""

from __future__ import annotations

import ast
import inspect
import re

import pytest
import redis
from flask import Flask
from rq import Queue
from rq.registry import ScheduledJobRegistry

from runtime import keys
from runtime.jobs import InlineJobs, RqJobs, resolve_job, schedule_periodic
from tests.gateway import sample_jobs
from tests.test_product_apart import PRODUCT, ROOT


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


def names_a_function(text: str) -> bool:
    """Say whether `text` is the dotted path of a function of our product packages."""
    if not re.fullmatch(rf"({'|'.join(PRODUCT)})(\.\w+)+", text):
        return False
    try:
        return inspect.isfunction(resolve_job(text))
    except (ImportError, AttributeError, TypeError, ValueError):
        return False


def test_product_code_names_no_function_by_a_dotted_string() -> None:
    # Jobs (and migration steps) are passed as the function; job_path names it for rq. A
    # dotted string would dodge the import, and with it the package graph check and mypy.
    strings = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and names_a_function(node.value)
    ]
    assert strings == []


def test_the_string_check_sees_a_job_path() -> None:
    assert names_a_function("sms.request_alerts.send_request_alert")
    assert names_a_function("payments.jobs.push_intent")
    assert not names_a_function("menus.yaml")
    assert not names_a_function("sms.jobs")  # a module, not a function
