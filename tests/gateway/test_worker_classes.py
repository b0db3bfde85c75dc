"""The worker classes: in-process jobs keep rq's timeouts, and every job module is preloaded."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from rq import Queue, SimpleWorker, Worker

import runtime
from gateway.config import Settings
from gateway.devserver import _worker_argv
from gateway.queues import QueueNames
from gateway.worker import (
    DEFAULT_WORKER_CLASS,
    JOB_MODULES,
    GuichetWorker,
    PreloadWorker,
    build_worker,
    worker_connection,
)
from runtime import keys
from sms.request_alerts import send_request_alert
from tests.gateway.test_procfile import PACKAGES, procfile


@pytest.fixture
def connection(app: Flask) -> Iterator[redis.Redis]:
    client = worker_connection(runtime.current().get(Settings))
    yield client
    client.close()


def test_the_default_class_preloads_and_runs_jobs_in_process(app: Flask) -> None:
    worker = build_worker(runtime.current().get(Settings), [QueueNames.SMS])
    assert DEFAULT_WORKER_CLASS == "preload"
    assert isinstance(worker, PreloadWorker)
    assert isinstance(worker, SimpleWorker)
    assert not isinstance(worker, Worker)  # no fork per job
    fork = build_worker(runtime.current().get(Settings), [QueueNames.SMS], "fork")
    assert type(fork) is GuichetWorker and isinstance(fork, Worker)
    assert not isinstance(fork, SimpleWorker)  # a work horse per job


def test_a_hung_job_is_stopped_by_its_timeout_and_the_next_job_runs(
    connection: redis.Redis,
) -> None:
    queue = Queue(keys.queue(QueueNames.DEFAULT), connection=connection)
    hung = queue.enqueue("tests.gateway.sample_jobs.hang", 30, job_timeout=1)
    queue.enqueue("tests.gateway.sample_jobs.remember", "after", "ok")
    PreloadWorker([queue], connection=connection).work(burst=True)
    assert hung.get_status(refresh=True) == "failed"
    assert "JobTimeoutException" in (hung.latest_result().exc_string or "")
    assert connection.lrange("after", 0, -1) == [b"ok"]


def test_a_job_that_raises_fails_alone(connection: redis.Redis) -> None:
    queue = Queue(keys.queue(QueueNames.DEFAULT), connection=connection)
    broken = queue.enqueue("tests.gateway.sample_jobs.remember")  # missing arguments
    queue.enqueue("tests.gateway.sample_jobs.remember", "after", "ok")
    PreloadWorker([queue], connection=connection).work(burst=True)
    assert broken.get_status(refresh=True) == "failed"
    assert connection.lrange("after", 0, -1) == [b"ok"]


def test_every_job_module_is_preloaded() -> None:
    # Jobs are passed as functions: every package's jobs module, and the request alerts that
    # menus and the agents' API name, must be imported before the first job.
    job_modules = {f"{p}.jobs" for p in PACKAGES if importlib.util.find_spec(f"{p}.jobs")}
    job_modules -= {"runtime.jobs", "gateway.jobs"}  # the job port and the hop's adapter to it
    assert "sms.jobs" in job_modules  # the collection really finds them
    assert {*job_modules, send_request_alert.__module__} <= set(JOB_MODULES)


def test_procfile_and_make_run_use_the_default_class() -> None:
    for argv in (procfile()["worker"], _worker_argv()):
        assert argv[argv.index("--worker-class") + 1] == DEFAULT_WORKER_CLASS
    assert _worker_argv()[0] == sys.executable
