"""The durable message log (SQL) and what it brings back after Redis came back empty."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import redis
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy.engine import make_url

import runtime
from runtime import keys
from runtime.logs import current_phone_ref
from runtime.sealing import PREFIX, Sealer
from sms import tables
from sms.derived_keys import message_sealer
from sms.inbound import InboundRouter
from sms.message_log import MessageLog
from sms.otp import OtpService
from sms.preferences import Preferences
from sms.providers.console import read_outbox
from sms.queues import DeliveryQueue
from sms.recovery import INTERRUPTED, OTP_LOST, Recovery
from sms.service import SmsService
from sms.store import MessageStore, Status
from sms.templates import TemplateBook
from sms.wiring import log_engine
from tests.conftest import UssdPhone
from tests.sms.conftest import OTHER, PHONE, Jobs, message

PARAMS = {"ref": "12345674", "document": "Acte de naissance", "short_code": "*384*12#"}
NOTICE = {"tax": "Taxe voirie", "date": "31/03", "short_code": "*384*12#"}


def _log() -> MessageLog:
    return runtime.current().get(MessageLog)


def _recovery(app: Flask) -> Recovery:
    """The app's own parts, with no grace: every unfinished message is looked at."""
    services = runtime.current()
    return Recovery(
        log=services.get(MessageLog),
        store=services.get(MessageStore),
        book=services.get(TemplateBook),
        queue=services.get(DeliveryQueue),  # type: ignore[type-abstract]
        seal=message_sealer(
            app.config["SETTINGS"].personal_data_keys, app.config["SETTINGS"].otp_key
        ),
        client=services.get(redis.Redis),
        grace_seconds=0,
    )


def _database_bytes(app: Flask) -> bytes:
    path = Path(make_url(app.config["SETTINGS"].database_url).database or "")
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_the_row_exists_before_the_answer_and_follows_the_message(jobs: Jobs) -> None:
    result = (
        runtime.current()
        .get(SmsService)
        .send(PHONE, "request_created", PARAMS, idempotency_key="req:1")
    )
    logged = _log().get(result.message_id)
    assert logged is not None
    assert (logged.status, logged.template, logged.params) == (
        Status.QUEUED,
        "request_created",
        PARAMS,
    )
    assert logged.sealed_phone  # sealed while queued, to be sent again if Redis forgets
    jobs.run()
    sent = _log().get(result.message_id)
    assert sent is not None
    assert sent.status is Status.SENT and sent.provider_id
    assert sent.sealed_phone is None
    assert [entry.split("@")[0] for entry in sent.history.split(";") if entry] == [
        "queued",
        "sending",
        "sent",
    ]


def test_no_number_nor_code_in_clear_in_the_database(app: Flask, jobs: Jobs) -> None:
    runtime.current().get(OtpService).issue(PHONE, "login")
    outbox = read_outbox(runtime.current().get(redis.Redis), phone=PHONE)
    assert outbox == []  # not sent yet: the number is only sealed in the log
    stored = _database_bytes(app)
    assert PHONE.encode() not in stored and PHONE[1:].encode() not in stored
    jobs.run()
    code = read_outbox(runtime.current().get(redis.Redis), phone=PHONE)[0].text.split()[4]
    assert code.rstrip(".").isdigit()
    stored = _database_bytes(app)
    assert code.rstrip(".").encode() not in stored
    assert PHONE[1:].encode() not in stored


def test_a_key_redis_forgot_is_still_the_same_message(
    app: Flask, redis_client: redis.Redis
) -> None:
    sms = runtime.current().get(SmsService)
    first = sms.send(PHONE, "request_created", PARAMS, idempotency_key="req:2")
    redis_client.flushdb()  # Redis came back empty
    again = sms.send(PHONE, "request_created", PARAMS, idempotency_key="req:2")
    assert (again.message_id, again.created) == (first.message_id, False)


def test_recovery_sends_a_queued_message_once_after_redis_came_back_empty(
    app: Flask, jobs: Jobs, redis_client: redis.Redis, store: MessageStore
) -> None:
    result = (
        runtime.current()
        .get(SmsService)
        .send(PHONE, "request_created", PARAMS, idempotency_key="req:3")
    )
    text = message(store, result.message_id).text
    redis_client.flushdb()
    report = _recovery(app).run()
    assert (report.requeued, report.failed) == (1, 0)
    assert _recovery(app).run().requeued == 0  # back in Redis: nothing to do twice
    jobs.run()
    assert [e.text for e in read_outbox(redis_client, phone=PHONE)] == [text]
    logged = _log().get(result.message_id)
    assert logged is not None and logged.status is Status.SENT


def test_an_otp_whose_code_was_lost_ends_failed_and_may_be_asked_again(
    app: Flask, jobs: Jobs, redis_client: redis.Redis
) -> None:
    otp = runtime.current().get(OtpService)
    assert otp.issue(PHONE, "login").sent
    redis_client.flushdb()
    assert _recovery(app).run().failed == 1
    [row] = _log().for_phone_ref(current_phone_ref(PHONE))
    assert (row.status, row.reason) == (Status.FAILED, OTP_LOST)
    assert otp.issue(PHONE, "login").sent  # the resend wait was in Redis too
    jobs.run()
    assert len(read_outbox(redis_client, phone=PHONE)) == 1


def test_a_message_redis_lost_while_sending_is_never_sent_again(
    app: Flask, redis_client: redis.Redis, store: MessageStore
) -> None:
    result = (
        runtime.current()
        .get(SmsService)
        .send(PHONE, "request_created", PARAMS, idempotency_key="req:4")
    )
    _log().claim([result.message_id])  # a worker took it, then Redis went
    redis_client.flushdb()
    assert _recovery(app).run().failed == 1
    logged = _log().get(result.message_id)
    assert logged is not None and (logged.status, logged.reason) == (Status.FAILED, INTERRUPTED)
    assert store.get(result.message_id) is None


def test_stop_and_language_survive_an_empty_redis(redis_client: redis.Redis, jobs: Jobs) -> None:
    prefs = runtime.current().get(Preferences)
    prefs.set_opted_out(PHONE, True)
    prefs.set_language(OTHER, "sw")
    redis_client.flushdb()
    assert prefs.opted_out(PHONE)
    assert not prefs.opted_out(OTHER)
    assert prefs.language(OTHER) == "sw"
    refused = (
        runtime.current()
        .get(SmsService)
        .send(PHONE, "notice_tax_deadline", NOTICE, idempotency_key="notice:1")
    )
    assert (refused.status, refused.reason) == (Status.REFUSED, "opted_out")
    prefs.set_opted_out(PHONE, False)  # START
    redis_client.flushdb()
    assert not prefs.opted_out(PHONE)


def _otp_secret(app: Flask) -> bytes:
    """OTP_KEY as the message log and preferences derived their keys from it (dev fallback)."""
    return app.config["SETTINGS"].otp_key.encode() or b"guichet-development"


def test_numbers_are_sealed_with_personal_data_keys(app: Flask) -> None:
    result = (
        runtime.current()
        .get(SmsService)
        .send(PHONE, "request_created", PARAMS, idempotency_key="req:5")
    )
    logged = _log().get(result.message_id)
    assert logged is not None and logged.sealed_phone is not None
    assert logged.sealed_phone.startswith(PREFIX)
    only_personal_data_keys = Sealer.from_setting(app.config["SETTINGS"].personal_data_keys)
    assert only_personal_data_keys.unseal(logged.sealed_phone) == PHONE


def test_a_number_sealed_before_the_one_cipher_is_still_sent(
    app: Flask, jobs: Jobs, redis_client: redis.Redis, store: MessageStore
) -> None:
    result = (
        runtime.current()
        .get(SmsService)
        .send(PHONE, "request_created", PARAMS, idempotency_key="req:6")
    )
    text = message(store, result.message_id).text
    # What the message log wrote before it used PERSONAL_DATA_KEYS: a bare Fernet token
    # under a key derived from OTP_KEY (the former sms.sealing.PhoneSeal).
    old_key = hmac.new(_otp_secret(app), b"sms-message-log-seal", hashlib.sha256).digest()
    old_token = Fernet(base64.urlsafe_b64encode(old_key)).encrypt(PHONE.encode()).decode()
    engine = log_engine(app.config["SETTINGS"].database_url)
    with engine.begin() as conn:
        conn.execute(
            tables.messages.update()
            .where(tables.messages.c.id == result.message_id)
            .values(sealed_phone=old_token)
        )
    engine.dispose()
    redis_client.flushdb()
    report = _recovery(app).run()
    assert (report.requeued, report.failed) == (1, 0)
    jobs.run()
    assert [e.text for e in read_outbox(redis_client, phone=PHONE)] == [text]


def test_preferences_stay_under_the_key_they_were_stored_with(app: Flask) -> None:
    runtime.current().get(Preferences).set_opted_out(PHONE, True)
    # The ref sms_preferences rows were written under before the one cipher: unchanged, or
    # every STOP would be lost at the upgrade.
    ref_key = hmac.new(_otp_secret(app), b"sms-preferences-ref", hashlib.sha256).digest()
    old_ref = hmac.new(ref_key, PHONE.encode(), hashlib.sha256).hexdigest()[:32]
    engine = log_engine(app.config["SETTINGS"].database_url)
    with engine.connect() as conn:
        refs = conn.execute(sa.select(tables.preferences.c.phone_ref)).scalars().all()
    engine.dispose()
    assert refs == [old_ref]


def test_a_language_chosen_on_ussd_survives_an_empty_redis(
    redis_client: redis.Redis, jobs: Jobs, ussd: UssdPhone
) -> None:
    ussd.dial(phone=OTHER)
    chosen = ussd.type("9", "2")  # the language menu, English
    assert "Request or register" in chosen.body
    redis_client.flushdb()  # Redis came back empty
    assert "Request or register" in ussd.dial(phone=OTHER).body  # the next dial
    # Written back with that hop's save: later dials find it in their one round trip.
    assert redis_client.get(keys.phone_language(OTHER)) == b"en"
    redis_client.flushdb()
    router = runtime.current().get(InboundRouter)
    reply = router.handle("in-lang-1", OTHER, "AIDE")  # a French keyword, the phone's language
    assert reply is not None and reply.accepted
    jobs.run()
    [sent] = read_outbox(redis_client, phone=OTHER)
    assert sent.text.startswith("Guichet: STATUS <ref>")
