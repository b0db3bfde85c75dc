"""The real SDK path end to end: SmsService -> rq job -> africastalking SDK -> fake AT API."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

import runtime
from fakes.africastalking import Behaviour, FakeAfricasTalking
from gateway.app import create_app
from sms.delivery import Dispatcher, hold_key, holds_metric_key
from sms.service import SendResult, SmsService
from sms.store import MessageStore, Status
from tests.sms.conftest import OTHER, PHONE, Jobs, message

PARAMS = {"ref": "12345674", "document": "Acte de naissance", "short_code": "*384*12#"}


@pytest.fixture
def app_config(at_config: dict[str, Any]) -> dict[str, Any]:
    return at_config


@dataclass
class World:
    """The app on the fake AT API, its job runner and what the tests look at."""

    app: Flask
    client: FlaskClient
    jobs: Jobs
    store: MessageStore
    fake: FakeAfricasTalking
    redis: redis.Redis


@pytest.fixture
def world(app: Flask, jobs: Jobs, store: MessageStore, fake_at: FakeAfricasTalking) -> World:
    return World(app, app.test_client(), jobs, store, fake_at, jobs.connection)


def _sms() -> SmsService:
    return runtime.current().get(SmsService)


def _send(key: str = "k", phone: str = PHONE) -> SendResult:
    sms = _sms()
    return sms.send(phone, "request_created", PARAMS, idempotency_key=key)


def test_success_posts_the_sdk_form_and_records_the_provider_id(
    app: Flask, jobs: Jobs, store: MessageStore, fake_at: FakeAfricasTalking
) -> None:
    result = _send()
    jobs.run()
    sent = message(store, result.message_id)
    assert sent.status == Status.SENT
    [request] = fake_at.received
    assert request.api_key == "test-api-key"
    assert request.form["username"] == "guichet"
    assert request.form["to"] == PHONE
    assert request.form["message"] == _sms().book.message("request_created", "fr", PARAMS)
    assert sent.provider_id == request.message_ids[0]
    # Once sent, the log forgets the number and the text (it keeps the masked number).
    assert (sent.phone, sent.text, sent.phone_masked) == ("", "", "+243 81•••••01")


@pytest.mark.parametrize(
    ("code", "status"), [(403, "InvalidPhoneNumber"), (406, "UserInBlacklist")]
)
def test_permanent_per_recipient_failures_are_not_retried(
    world: World, code: int, status: str
) -> None:
    world.fake.script(Behaviour(status_code=code))
    result = _send()
    world.jobs.run()
    failed = message(world.store, result.message_id)
    assert (failed.status, failed.reason) == (Status.FAILED, f"{code} {status}")
    assert len(world.fake.received) == 1
    assert world.jobs.scheduled() == []


def test_per_recipient_500_is_retried_then_sent(
    app: Flask, jobs: Jobs, store: MessageStore, fake_at: FakeAfricasTalking
) -> None:
    fake_at.script(Behaviour(status_code=500), Behaviour(status_code=501))
    result = _send()
    jobs.run()
    sent = message(store, result.message_id)
    assert (sent.status, sent.attempts) == (Status.SENT, 3)
    assert len(fake_at.sent_to(PHONE)) == 3


def test_http_5xx_is_retried_and_bounded(
    app: Flask, jobs: Jobs, store: MessageStore, fake_at: FakeAfricasTalking
) -> None:
    fake_at.default = Behaviour(http_status=503)
    result = _send()
    jobs.run()
    failed = message(store, result.message_id)
    # Three retry delays configured: four attempts, then an explicit final status.
    assert (failed.status, failed.attempts) == (Status.FAILED, 4)
    assert len(fake_at.received) == 4


def test_retries_wait_growing_delays_on_the_scheduler(
    app_config: dict[str, Any], redis_client: redis.Redis, fake_at: FakeAfricasTalking
) -> None:
    create_app({**app_config, "sms_retry_delays": "30,120"})
    jobs = Jobs(redis_client)
    store = runtime.current().get(MessageStore)
    fake_at.default = Behaviour(status_code=500)
    result = _send()
    jobs.run()
    assert message(store, result.message_id).status == Status.QUEUED
    assert len(jobs.scheduled()) == 1  # waiting 30 s, not in the queue
    jobs.release_scheduled()
    jobs.run()
    jobs.release_scheduled()
    jobs.run()
    assert message(store, result.message_id).status == Status.FAILED
    assert len(fake_at.received) == 3
    runtime.uninstall()


def test_a_read_timeout_is_retried_accepting_a_rare_duplicate(
    app: Flask, jobs: Jobs, store: MessageStore, fake_at: FakeAfricasTalking
) -> None:
    fake_at.script(Behaviour(delay_seconds=2.5))  # the client gives up after 1 s
    result = _send()
    jobs.run()
    sent = message(store, result.message_id)
    assert (sent.status, sent.attempts) == (Status.SENT, 2)
    # The slow first request reached "AT" too: the documented price of not losing a receipt.
    assert len(fake_at.sent_to(PHONE)) == 2


def test_read_timeouts_are_bounded(
    app: Flask, jobs: Jobs, store: MessageStore, fake_at: FakeAfricasTalking
) -> None:
    fake_at.default = Behaviour(delay_seconds=1.5)
    result = _send()
    jobs.run()
    failed = message(store, result.message_id)
    assert failed.status == Status.FAILED
    assert failed.reason.startswith("read timeout")
    assert failed.attempts == 4  # three retry delays configured


def test_an_unreachable_api_is_transient(
    app_config: dict[str, Any], redis_client: redis.Redis
) -> None:
    # Nothing listens on port 9 of 127.0.0.1: connection refused, nothing was sent.
    create_app({**app_config, "at_api_base_url": "http://127.0.0.1:9"})
    jobs = Jobs(redis_client)
    result = _send()
    jobs.run()
    failed = message(runtime.current().get(MessageStore), result.message_id)
    assert (failed.status, failed.attempts) == (Status.FAILED, 4)
    assert failed.reason.startswith("cannot reach AT")
    runtime.uninstall()


@pytest.mark.parametrize("code", [401, 405])
def test_an_account_hold_pauses_sending_and_resumes(world: World, code: int) -> None:
    world.fake.script(Behaviour(status_code=code))
    first = _send("a")
    world.jobs.run()
    held = message(world.store, first.message_id)
    assert (held.status, held.attempts) == (Status.QUEUED, 0)
    assert world.redis.get(hold_key()) is not None
    assert int(world.redis.get(holds_metric_key()) or 0) == 1
    # While on hold, a new message is not even tried: no request reaches AT.
    second = _send("b", OTHER)
    world.jobs.run()
    assert len(world.fake.received) == 1
    assert message(world.store, second.message_id).status == Status.QUEUED
    assert len(world.jobs.scheduled()) == 2
    # The hold expires (its TTL); the scheduled jobs run and both messages go.
    world.redis.delete(hold_key())
    world.jobs.release_scheduled()
    world.jobs.run()
    assert message(world.store, first.message_id).status == Status.SENT
    assert message(world.store, second.message_id).status == Status.SENT
    assert len(world.fake.received) == 3


def test_a_wrong_api_key_pauses_like_a_hold(
    app_config: dict[str, Any], redis_client: redis.Redis, fake_at: FakeAfricasTalking
) -> None:
    create_app({**app_config, "at_api_key": "wrong"})
    jobs = Jobs(redis_client)
    result = _send()
    jobs.run()
    assert message(runtime.current().get(MessageStore), result.message_id).status == Status.QUEUED
    assert redis_client.get(hold_key()) is not None
    runtime.uninstall()


def _deliver(jobs: Jobs, store: MessageStore) -> tuple[str, str]:
    result = _send()
    jobs.run()
    return result.message_id, message(store, result.message_id).provider_id


@pytest.mark.parametrize(
    ("sequence", "final"),
    [
        (["Buffered", "Success"], Status.DELIVERED),
        (["Success", "Buffered"], Status.DELIVERED),  # out of order: never regresses
        (["Failed", "Success"], Status.UNDELIVERED),
        (["Submitted", "AbsentSubscriber", "Sent"], Status.UNDELIVERED),
        (["Sent"], Status.SENT),
    ],
)
def test_delivery_report_sequences(world: World, sequence: list[str], final: Status) -> None:
    message_id, provider_id = _deliver(world.jobs, world.store)
    for status in sequence:
        response = world.client.post(
            "/sms/africastalking/delivery",
            data={"id": provider_id, "status": status, "phoneNumber": PHONE, "retryCount": "0"},
        )
        assert response.get_json()["status"] == "accepted"
        world.jobs.run()
    assert message(world.store, message_id).status == final


def test_duplicate_delivery_reports_are_processed_once(
    app: Flask, client: FlaskClient, jobs: Jobs, store: MessageStore, fake_at: FakeAfricasTalking
) -> None:
    message_id, provider_id = _deliver(jobs, store)
    form = {"id": provider_id, "status": "Success", "phoneNumber": PHONE, "retryCount": "0"}
    first = client.post("/sms/africastalking/delivery", data=form)
    second = client.post("/sms/africastalking/delivery", data=form)
    assert first.get_json()["status"] == "accepted"
    assert second.get_json()["status"] == "duplicate"
    assert len(jobs.queue.get_job_ids()) == 1
    jobs.run()
    assert message(store, message_id).status == Status.DELIVERED


def test_a_report_that_beats_our_own_write_is_applied_later(
    app: Flask, client: FlaskClient, jobs: Jobs, store: MessageStore, fake_at: FakeAfricasTalking
) -> None:
    dispatcher = runtime.current().get(Dispatcher)
    assert dispatcher.apply_report("ATXid_early", "Success") == "pending"
    # The provider id is known only once the send returns; link it as the job would.
    result = _send()
    store.transition(result.message_id, [Status.QUEUED], Status.SENT, provider_id="ATXid_early")
    store.link_provider_id("ATXid_early", result.message_id)
    dispatcher._apply_pending("ATXid_early")
    assert message(store, result.message_id).status == Status.DELIVERED


def test_the_fake_posts_delivery_reports_to_our_callback(
    app: Flask, jobs: Jobs, store: MessageStore, fake_at: FakeAfricasTalking
) -> None:

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        message_id, provider_id = _deliver(jobs, store)
        url = f"http://127.0.0.1:{server.server_port}/sms/africastalking/delivery"
        assert fake_at.post_delivery_report(url, provider_id, "Success", phone=PHONE) == 200
    finally:
        server.shutdown()
    jobs.run()
    assert message(store, message_id).status == Status.DELIVERED
