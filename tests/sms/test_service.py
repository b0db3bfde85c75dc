from __future__ import annotations

import time

import redis
from flask import Flask

import runtime
from gateway.app import create_app
from sms.delivery import DeliverOutcome, Dispatcher
from sms.preferences import Preferences
from sms.providers.console import read_outbox
from sms.service import SmsService
from sms.store import MessageStore, Status
from tests.sms.conftest import OTHER, PHONE, Jobs, message

PARAMS = {"ref": "12345674", "document": "Acte de naissance", "short_code": "*384*12#"}
NOTICE = {"tax": "Taxe voirie", "date": "31/03", "short_code": "*384*12#"}


def _sms() -> SmsService:
    return runtime.current().get(SmsService)


def test_send_persists_queued_then_the_job_sends_once(
    jobs: Jobs, store: MessageStore, redis_client: redis.Redis
) -> None:
    result = _sms().send(PHONE, "request_created", PARAMS, idempotency_key="req:1:created")
    assert (result.status, result.created) == (Status.QUEUED, True)
    queued = message(store, result.message_id)
    assert queued.text.startswith("Guichet: demande 12345674")
    assert (queued.encoding, queued.segments) == ("GSM-7", 1)
    jobs.run()
    assert message(store, result.message_id).status == Status.SENT
    assert [e.text for e in read_outbox(redis_client, phone=PHONE)] == [queued.text]


def test_same_idempotency_key_is_the_same_message_and_no_second_send(
    jobs: Jobs, redis_client: redis.Redis
) -> None:
    first = _sms().send(PHONE, "request_created", PARAMS, idempotency_key="k")
    jobs.run()
    again = _sms().send(PHONE, "request_created", PARAMS, idempotency_key="k")
    jobs.run()
    assert again.message_id == first.message_id
    assert (again.created, again.status) == (False, Status.SENT)
    assert len(read_outbox(redis_client)) == 1


def test_a_rerun_job_never_sends_twice(
    jobs: Jobs, store: MessageStore, redis_client: redis.Redis
) -> None:
    result = _sms().send(PHONE, "request_created", PARAMS, idempotency_key="k")
    jobs.run()
    # The same job id delivered again (an rq retry, a duplicate enqueue, a manual re-run).
    jobs.queue.enqueue("sms.jobs.deliver", result.message_id)
    jobs.queue.enqueue("sms.jobs.deliver", result.message_id)
    jobs.run()
    assert len(read_outbox(redis_client)) == 1
    assert message(store, result.message_id).attempts == 1


def test_a_message_found_sending_is_not_sent_again(
    app: Flask, store: MessageStore, redis_client: redis.Redis
) -> None:
    dispatcher = runtime.current().get(Dispatcher)
    result = _sms().send(PHONE, "request_created", PARAMS, idempotency_key="k")
    # A worker claimed it and is (or was) calling the provider.
    store.transition(result.message_id, [Status.QUEUED], Status.SENDING, sending_since=time.time())
    assert dispatcher.deliver(result.message_id) == DeliverOutcome.IN_FLIGHT
    assert message(store, result.message_id).status == Status.SENDING
    # That worker died long ago: outcome unknown, at-most-once -> failed, never resent.
    store.transition(result.message_id, [Status.SENDING], Status.SENDING, sending_since=1.0)
    assert dispatcher.deliver(result.message_id) == DeliverOutcome.INTERRUPTED
    failed = message(store, result.message_id)
    assert (failed.status, failed.reason) == (Status.FAILED, "interrupted: outcome unknown")
    assert read_outbox(redis_client) == []


def test_stop_blocks_non_essential_messages_only(app: Flask, jobs: Jobs) -> None:
    runtime.current().get(Preferences).set_opted_out(PHONE, True)
    notice = _sms().send(
        PHONE,
        "notice_tax_deadline",
        {"tax": "Taxe voirie", "date": "31/03", "short_code": "*384*12#"},
        idempotency_key="n1",
    )
    alert = _sms().send(PHONE, "request_created", PARAMS, idempotency_key="a1")
    assert (notice.status, notice.reason) == (Status.REFUSED, "opted_out")
    assert alert.status == Status.QUEUED


def test_destinations_outside_the_allowed_countries_and_landlines_are_refused(
    app: Flask,
) -> None:
    kenya = _sms().send("+254711000001", "request_created", PARAMS, idempotency_key="ke")
    landline = _sms().send("+243123456789", "request_created", PARAMS, idempotency_key="fix")
    garbage = _sms().send("0810000001", "request_created", PARAMS, idempotency_key="bad")
    assert (kenya.status, kenya.reason) == (Status.REFUSED, "country_not_allowed")
    assert landline.reason == "not_mobile"
    assert garbage.reason == "invalid_number"


def test_the_daily_budget_counts_notices_only(app_config: dict[str, object]) -> None:
    create_app({**app_config, "sms_daily_budget": 2})
    sms = _sms()
    notices = [
        sms.send(OTHER, "notice_tax_deadline", NOTICE, idempotency_key=f"n{i}") for i in range(3)
    ]
    # Spent budget or not, what the citizen needs still goes: alerts, OTPs, receipts.
    alerts = [sms.send(OTHER, "request_created", PARAMS, idempotency_key=f"b{i}") for i in range(3)]
    otp = sms.send(OTHER, "otp", {"code": "123456", "minutes": 5}, idempotency_key="otp")
    assert [r.status for r in notices] == [Status.QUEUED, Status.QUEUED, Status.REFUSED]
    assert notices[2].reason == "budget_exceeded"
    assert [r.status for r in alerts] == [Status.QUEUED] * 3
    assert otp.status == Status.QUEUED
    runtime.uninstall()


def test_the_phones_language_picks_the_text(app: Flask) -> None:
    runtime.current().get(Preferences).set_language(PHONE, "sw")
    store = runtime.current().get(MessageStore)
    result = _sms().send(PHONE, "request_created", PARAMS, idempotency_key="sw")
    assert message(store, result.message_id).text.startswith("Guichet: ombi 12345674")
    english = _sms().send(PHONE, "request_created", PARAMS, idempotency_key="en", lang="en")
    assert message(store, english.message_id).lang == "en"
