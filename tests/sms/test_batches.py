"""New messages go through the ready list and drain jobs: each sent once, none left behind."""

from __future__ import annotations

import collections
import time
from typing import Any

import pytest
import redis
from flask import Flask

import runtime
from fakes.africastalking import Behaviour, FakeAfricasTalking
from runtime.jobs import job_path
from sms.delivery import DeliverOutcome, Dispatcher
from sms.jobs import deliver_ready
from sms.providers.console import read_outbox
from sms.queues import DRAIN_BATCH, ready_key
from sms.service import SmsService
from sms.store import MessageStore, Status
from sms.sweeper import Sweeper
from tests.sms.conftest import Jobs, message

DRAIN_JOB = job_path(deliver_ready)  # the dotted path rq stores
PARAMS = {"ref": "12345674", "document": "Acte de naissance", "short_code": "*384*12#"}


def _send(count: int) -> list[str]:
    sms = runtime.current().get(SmsService)
    return [
        sms.send(f"+24381{i:07d}", "request_created", PARAMS, idempotency_key=f"b{i}").message_id
        for i in range(count)
    ]


def test_one_drain_job_per_batch_of_new_messages(
    app: Flask, jobs: Jobs, store: MessageStore, redis_client: redis.Redis
) -> None:
    ids = _send(2 * DRAIN_BATCH + 1)
    # Jobs were enqueued when the ready list reached 1, K+1 and 2K+1 ids.
    assert [job.func_name for job in jobs.queue.jobs] == [DRAIN_JOB] * 3
    jobs.run()
    assert {message(store, i).status for i in ids} == {Status.SENT}
    assert len(read_outbox(redis_client, limit=1000)) == len(ids)
    assert redis_client.llen(ready_key()) == 0
    assert jobs.failed() == 0


def test_a_lone_message_gets_its_job_at_once(app: Flask, jobs: Jobs, store: MessageStore) -> None:
    (first,) = _send(1)
    assert jobs.queue.count == 1
    jobs.run()
    assert message(store, first).status == Status.SENT


def test_the_sweeper_finds_ids_whose_drain_job_was_lost(
    app: Flask, jobs: Jobs, store: MessageStore, redis_client: redis.Redis
) -> None:
    ids = _send(3)
    jobs.queue.empty()  # the process died between the push and the enqueue
    assert runtime.current().get(Sweeper).sweep() == 0  # not overdue: only the list is kicked
    assert [job.func_name for job in jobs.queue.jobs] == [DRAIN_JOB]
    jobs.run()
    assert {message(store, i).status for i in ids} == {Status.SENT}


def test_a_drain_job_out_of_time_hands_the_rest_to_a_new_job(
    app: Flask,
    jobs: Jobs,
    store: MessageStore,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = _send(3)
    jobs.queue.empty()
    # Out of time at once: each of the job's threads sends one message, then stops.
    monkeypatch.setattr("sms.jobs.DRAIN_BUDGET_SECONDS", 0.0)
    deliver_ready(DRAIN_BATCH)
    sent = [i for i in ids if message(store, i).status == Status.SENT]
    assert 1 <= len(sent) < len(ids)
    left = [r.decode() for r in redis_client.lrange(ready_key(), 0, -1)]
    assert left == [i for i in ids if i not in sent]  # back at the head, in order
    assert {message(store, i).status for i in left} == {Status.QUEUED}
    assert [job.func_name for job in jobs.queue.jobs] == [DRAIN_JOB]
    jobs.run()
    assert {message(store, i).status for i in ids} == {Status.SENT}
    assert len(read_outbox(redis_client)) == 3


def test_a_batch_skips_what_is_done_and_what_another_worker_sends(
    app: Flask, store: MessageStore, redis_client: redis.Redis
) -> None:
    done, in_flight, fresh = _send(3)
    dispatcher = runtime.current().get(Dispatcher)
    assert dispatcher.deliver(done) == DeliverOutcome.SENT
    store.transition(in_flight, [Status.QUEUED], Status.SENDING, sending_since=time.time())
    outcomes, left = dispatcher.deliver_many([done, in_flight, fresh, "gone"], threads=2)
    assert left == []
    assert outcomes == collections.Counter(
        {
            DeliverOutcome.ALREADY_DONE: 1,
            DeliverOutcome.IN_FLIGHT: 1,
            DeliverOutcome.SENT: 1,
            DeliverOutcome.MISSING: 1,
        }
    )
    assert len(read_outbox(redis_client)) == 2  # `done` once, `fresh` once


class TestThroughTheFakeApi:
    """The real SDK path: threads, kept connections, each number called once."""

    @pytest.fixture
    def app_config(self, at_config: dict[str, Any]) -> dict[str, Any]:
        return at_config

    def test_every_message_reaches_the_api_once_over_kept_connections(
        self, app: Flask, jobs: Jobs, store: MessageStore, fake_at: FakeAfricasTalking
    ) -> None:
        ids = _send(DRAIN_BATCH + 10)
        jobs.run()
        assert {message(store, i).status for i in ids} == {Status.SENT}
        calls = collections.Counter(r.form["to"] for r in fake_at.received)
        assert set(calls.values()) == {1}
        assert len(calls) == len(ids)
        # Two threads per drain job, each on its own kept connection: a handful of
        # connections, never one per message.
        ports = {r.client_port for r in fake_at.received}
        assert 1 <= len(ports) <= 4

    def test_a_failing_api_mid_batch_retries_each_message_alone(
        self, app: Flask, jobs: Jobs, store: MessageStore, fake_at: FakeAfricasTalking
    ) -> None:
        fake_at.script(Behaviour(http_status=503), Behaviour(http_status=503))
        ids = _send(4)
        jobs.run()  # two answered 503: each retried alone by a deliver job (no delay in tests)
        assert {message(store, i).status for i in ids} == {Status.SENT}
        assert {message(store, i).attempts for i in ids} == {1, 2}
        assert len({r.form["to"] for r in fake_at.received}) == 4
