"""The sweeper: a message whose job was lost is sent once; one a dead worker left is not resent."""

from __future__ import annotations

import time

import runtime
from sms.service import SmsService
from sms.store import MessageStore, Status, pending_key
from sms.sweeper import Sweeper
from tests.sms.conftest import PHONE, Jobs, message

PARAMS = {"ref": "12345674", "document": "Acte de naissance", "short_code": "*384*12#"}


def _lost_enqueue(store: MessageStore) -> str:
    # What SmsService.send writes before enqueuing, as if the process died in between.
    message_id, created = store.create(
        "lost-1",
        {
            "phone": PHONE,
            "template": "request_created",
            "lang": "fr",
            "text": "Bonjour",
            "status": Status.QUEUED.value,
            "essential": 1,
            "reason": "",
            "attempts": 0,
        },
    )
    assert created
    return message_id


def test_a_queued_message_whose_job_was_lost_is_sent_once(
    app: object, jobs: Jobs, store: MessageStore
) -> None:
    message_id = _lost_enqueue(store)
    sweeper = runtime.current().get(Sweeper)
    assert sweeper.sweep(now=time.time()) == 0  # not overdue yet (grace)
    later = time.time() + 3600
    assert sweeper.sweep(now=later) == 1
    assert sweeper.sweep(now=later) == 0  # postponed: not enqueued twice
    jobs.run()
    assert message(store, message_id).status == Status.SENT
    assert sweeper.sweep(now=later + 7200) == 0  # sent: out of the pending index
    assert jobs.connection.zscore(pending_key(), message_id) is None


def test_two_sweeps_make_one_job(app: object, jobs: Jobs, store: MessageStore) -> None:
    message_id = _lost_enqueue(store)
    sweeper = runtime.current().get(Sweeper)
    later = time.time() + 3600
    sweeper.sweep(now=later)
    jobs.connection.zadd(pending_key(), {message_id: 0})  # another process sweeps the same id
    sweeper.sweep(now=later)
    assert jobs.queue.count == 1


def test_a_message_left_sending_by_a_dead_worker_is_not_resent(
    app: object, jobs: Jobs, store: MessageStore
) -> None:
    result = (
        runtime.current()
        .get(SmsService)
        .send(PHONE, "request_created", PARAMS, idempotency_key="k")
    )
    jobs.queue.empty()  # its job died with the worker
    store.transition(
        result.message_id, [Status.QUEUED], Status.SENDING, due_at=time.time(), sending_since=1.0
    )
    assert runtime.current().get(Sweeper).sweep(now=time.time() + 3600) == 1
    jobs.run()
    interrupted = message(store, result.message_id)
    assert (interrupted.status, interrupted.reason) == (
        Status.FAILED,
        "interrupted: outcome unknown",
    )
