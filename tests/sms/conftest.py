"""SMS fixtures: the app with SMS settings for tests, a burst rq worker, the fake AT API."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry

import runtime
from fakes.africastalking import FakeAfricasTalking
from runtime import keys
from sms.queues import SMS_QUEUE
from sms.store import Message, MessageStore
from tests.conftest import FAKE_AT_KEY

PHONE = "+243810000001"
OTHER = "+243990000002"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Retry at once (delays are asserted on their own) and keep holds short."""
    return {**app_config, "sms_retry_delays": "0,0,0", "sms_hold_seconds": 60}


class Jobs:
    """Run what the SMS layer queued, with a real rq worker in burst mode."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self.queue = Queue(keys.queue(SMS_QUEUE), connection=connection)

    def run(self) -> None:
        """Work the sms queue until it is empty."""
        SimpleWorker([self.queue], connection=self.connection).work(burst=True)

    def scheduled(self) -> list[str]:
        """Return the ids of jobs waiting for a later time."""
        return list(ScheduledJobRegistry(queue=self.queue).get_job_ids())

    def release_scheduled(self) -> int:
        """Move every scheduled job to the queue now (as the scheduler would, later)."""
        registry = ScheduledJobRegistry(queue=self.queue)
        ids = registry.get_job_ids()
        for job_id in ids:
            job = self.queue.fetch_job(job_id)
            registry.remove(job_id)
            if job is not None:
                self.queue.enqueue_job(job)
        return len(ids)

    def failed(self) -> int:
        """Return how many jobs raised."""
        return self.queue.failed_job_registry.count


@pytest.fixture
def jobs(app: Flask, redis_client: redis.Redis) -> Jobs:
    """Return a job runner on the test Redis (the app's container is installed)."""
    return Jobs(redis_client)


@pytest.fixture
def store(app: Flask) -> MessageStore:
    """Return the app's message store."""
    return runtime.current().get(MessageStore)


def message(store: MessageStore, message_id: str) -> Message:
    """Return a message that must exist."""
    found = store.get(message_id)
    assert found is not None
    return found


@pytest.fixture
def at_config(app_config: dict[str, Any], fake_at: FakeAfricasTalking) -> dict[str, Any]:
    """Return settings that send through the real SDK to the fake API."""
    return {
        **app_config,
        "sms_provider": "africastalking",
        "at_username": "guichet",
        "at_api_key": FAKE_AT_KEY,
        "at_api_base_url": fake_at.url,
        "at_timeout_seconds": 1.0,
    }
