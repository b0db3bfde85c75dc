"""Redis restarted EMPTY under load, with a real `python -m gateway worker` running throughout.

Issue 18 measured 44 of 136 OTPs answered 202 never sent, 16 payment intents stuck, the
periodic jobs gone until a worker restart, and a STOP'd citizen receiving the next broadcast.
Here, while the worker drains a backlog (the fake AT answers slowly), the private Redis is
stopped, its files deleted and started again; the same worker (never restarted) must then
bring everything back from SQL: the message log (sms.recovery), the payment intents
(reconciliation), the periodic jobs (gateway.worker maintenance), STOP (sms_preferences).

Counted at the fakes, never trusted from our own records: every accepted message reaches AT
at most once, every non-secret one exactly once; an OTP the log could not re-send (its code
was lost with Redis) ends `failed` in the log, never silently absent.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from rq import Queue

import runtime
from civic.ports import Backend
from civic.sql_tables import document_types
from fakes.africastalking import Behaviour, FakeAfricasTalking
from fakes.daraja import FakeDaraja
from gateway.queues import QueueNames
from payments.model import IntentStatus
from runtime import keys
from runtime.logs import current_phone_ref
from sms.inbound import InboundRouter
from sms.message_log import MessageLog
from sms.otp import OtpService
from sms.recovery import INTERRUPTED, OTP_LOST
from sms.service import SmsService
from sms.store import Status, pending_key
from tests.chaos.conftest import PrivateRedis
from tests.chaos.test_worker_kill import Workers, _env, _wait
from tests.conftest import UssdPhone
from tests.payments.conftest import MPESA_PHONE, Payments

pytestmark = pytest.mark.slow  # starts and stops real processes

NOTICES = 60  # essential alerts (request_created), a distinct phone each
OTPS = 30
INTENTS = 3
AFTER = 20  # alerts accepted after the restart
SLOW_AT = 0.05  # seconds per AT call: the worker has a backlog when Redis goes


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    """The worker drill's settings, with periodic reconciliation and delayed pushes."""
    return {
        **config,
        "payment_reconcile_interval_seconds": 1.0,
        "payment_reconcile_after_seconds": 1.0,
        "payment_push_delay_seconds": 20.0,  # pushes wait in Redis when it empties
        "sms_retry_delays": "1,2,4",
    }


def _alert(sms: SmsService, n: int, key: str) -> str:
    return sms.send(
        f"+2438100{n:05d}",
        "request_created",
        {"ref": f"B{n:07d}", "document": "Chaos", "short_code": "*384*12#"},
        idempotency_key=key,
    ).message_id


def test_redis_restarted_empty_mid_load(
    app: Flask,
    *,
    config: dict[str, Any],
    private_redis: PrivateRedis,
    fake_at: FakeAfricasTalking,
    fake_daraja: FakeDaraja,
    figures: dict[str, Any],
) -> None:
    services = runtime.current()
    sms = services.get(SmsService)
    otp = services.get(OtpService)
    message_log = services.get(MessageLog)
    client = services.get(redis.Redis)
    payments = Payments(app, client, fake_daraja)
    fake_at.script(*[Behaviour(delay_seconds=SLOW_AT)] * (NOTICES + OTPS + 10))
    stop_phone, other_phone = "+243810099001", "+243810099002"
    workers = Workers(_env(config), ",".join(QueueNames.all()))
    worker = workers.start()
    try:
        services.get(InboundRouter).handle("chaos-stop", stop_phone, "STOP")
        alerts = {n: _alert(sms, n, f"chaos-alert:{n}") for n in range(NOTICES)}
        otp_phones = [f"+2438101{n:05d}" for n in range(OTPS)]
        answered = [otp.issue(phone, "login").sent for phone in otp_phones]  # the API's 202
        intents = [payments.start(1000 + 100 * n, operator="mpesa").intent for n in range(INTENTS)]
        assert all(answered) and all(i is not None for i in intents)
        _wait("the worker to start sending", lambda: len(fake_at.received) >= 5)
        sent_before = len(fake_at.received)
        private_redis.restart_empty()  # everything in Redis is gone, the worker keeps running
        emptied = time.monotonic()
        assert not client.exists(pending_key())
        for n in range(NOTICES, NOTICES + AFTER):
            alerts[n] = _alert(sms, n, f"chaos-alert:{n}")
        # A retried call with a key Redis forgot: the log answers, no second message.
        again = _alert(sms, 0, "chaos-alert:0")
        sms_queue = Queue(keys.queue("sms"), connection=client)
        back = _wait(
            "the periodic sweep to be scheduled again",
            lambda: any(
                job.startswith(keys.job_id("sms-sweep-"))
                for job in sms_queue.scheduled_job_registry.get_job_ids()
            ),
            timeout=60,
        )
        _wait(
            "every logged message to leave the queue",
            lambda: not {"queued", "sending"} & set(message_log.status_counts()),
            timeout=90,
        )
        _wait(
            "every intent to be pushed",
            lambda: fake_daraja.push_count() >= INTENTS,
            timeout=60,
        )
        time.sleep(1.0)  # a (wrong) second push would show up now
        assert fake_daraja.deliver_callbacks() == [200] * INTENTS
        _wait(
            "every payment to settle",
            lambda: all(payments.intent(i.id).settled_at is not None for i in intents if i),
            timeout=60,
        )
        _wait(
            "every receipt to leave the queue",
            lambda: not {"queued", "sending"} & set(message_log.status_counts()),
            timeout=60,
        )
        # The STOP'd citizen and another receive a city notice, after the restart.
        notice = {"tax": "Taxe", "date": "31/12", "short_code": "*384*12#"}
        refused = sms.send(stop_phone, "notice_tax_deadline", notice, idempotency_key="n1")
        delivered = sms.send(other_phone, "notice_tax_deadline", notice, idempotency_key="n2")
        _wait("the notice to be sent", lambda: len(fake_at.sent_to(other_phone)) == 1)
        restarted = worker.poll() is not None
    finally:
        workers.stop_all()
    alert_sends = {n: len(fake_at.sent_to(f"+2438100{n:05d}")) for n in alerts}
    otp_sends = {p: len(fake_at.sent_to(p)) for p in otp_phones}
    otp_rows = {p: message_log.for_phone_ref(current_phone_ref(p)) for p in otp_phones}
    otp_failed = {
        p: rows[0].reason
        for p, rows in otp_rows.items()
        if rows and rows[0].status is Status.FAILED
    }
    otp_lost = [p for p in otp_phones if otp_sends[p] == 0 and p not in otp_failed]
    finals = [payments.intent(i.id) for i in intents if i]
    receipts = len(fake_at.sent_to(MPESA_PHONE))
    figures.update(
        {
            "accepted before: alerts / OTPs / intents": f"{NOTICES} / {OTPS} / {INTENTS}",
            "sent before Redis went": sent_before,
            "alerts accepted after the restart": AFTER,
            "alerts lost": sum(1 for n in alert_sends.values() if n == 0),
            "alerts duplicated": sum(max(n - 1, 0) for n in alert_sends.values()),
            "OTPs sent once": sum(1 for n in otp_sends.values() if n == 1),
            "OTPs failed in the log (code lost with Redis: ask again)": sum(
                1 for r in otp_failed.values() if r == OTP_LOST
            ),
            "OTPs failed in the log (interrupted mid-send)": sum(
                1 for r in otp_failed.values() if r == INTERRUPTED
            ),
            "OTPs lost (neither sent nor failed)": len(otp_lost),
            "OTPs duplicated": sum(max(n - 1, 0) for n in otp_sends.values()),
            "payment pushes / intents": f"{fake_daraja.push_count()} / {INTENTS}",
            "intents settled": sum(1 for f in finals if f.status is IntentStatus.SUCCEEDED),
            "receipts sent": receipts,
            "STOP'd citizen's notice": refused.status.value + " " + refused.reason,
            "restart to the periodic sweep scheduled again, s": round(back, 2),
            "restart to all settled, s": round(time.monotonic() - emptied, 2),
            "worker restarted": restarted,
        }
    )
    assert again == alerts[0]
    assert all(n == 1 for n in alert_sends.values()), alert_sends
    assert all(n <= 1 for n in otp_sends.values()), otp_sends
    assert otp_lost == []
    assert fake_daraja.push_count() == INTENTS
    assert all(f.status is IntentStatus.SUCCEEDED for f in finals)
    assert receipts == INTENTS
    assert refused.status is Status.REFUSED and refused.reason == "opted_out"
    assert delivered.accepted
    assert len(fake_at.sent_to(stop_phone)) == 1  # the STOP's own reply, nothing else
    assert not restarted


ALERT_PHONE = "+243810077001"  # a new citizen: the demo city owns nothing on this number
BIRTH_ANSWERS = ("Neema Kahindo", "14/02/2019", "Goma", "97", "Furaha Kahindo")


def test_request_alert_owed_through_redis_emptied(
    app: Flask,
    *,
    config: dict[str, Any],
    private_redis: PrivateRedis,
    fake_at: FakeAfricasTalking,
    figures: dict[str, Any],
) -> None:
    """A request filed on USSD whose alert job Redis lost is announced once, from SQL."""
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    client = runtime.current().get(redis.Redis)
    engine = sa.create_engine(config["database_url"])
    with engine.begin() as conn:  # a free document: filing it queues the alert job at once
        conn.execute(document_types.update().where(document_types.c.code == "birth").values(fee=0))
    engine.dispose()
    seeded = {r.owner_phone for r in backend.list_requests(limit=100)}
    phone = UssdPhone(app.test_client(), phone=ALERT_PHONE)
    phone.dial()
    docs = phone.type("2")
    birth = next(line.split(".")[0] for line in docs.body.splitlines() if "naissance" in line)
    done = phone.type(birth, "1", *BIRTH_ANSWERS, "1", "1")
    found = re.search(r"(\d{8})", done.body)
    assert done.kind == "END" and found is not None, done.body
    ref = found.group(1)
    sms_queue = Queue(keys.queue("sms"), connection=client)
    assert keys.job_id(f"request-alert-{ref}-1") in sms_queue.job_ids  # queued, never run
    owed_before = backend.owed_alerts(datetime.now(UTC) + timedelta(hours=1), 100)
    private_redis.restart_empty()  # the alert job is gone with everything else
    emptied = time.monotonic()
    assert sms_queue.count == 0
    workers = Workers(_env(config), ",".join(QueueNames.all()))
    workers.start()
    try:
        sent = _wait("the owed alert to be sent", lambda: bool(fake_at.sent_to(ALERT_PHONE)), 60)
        time.sleep(3.0)  # three more owed-alert ticks: a (wrong) second SMS would show now
    finally:
        workers.stop_all()
    alerts = fake_at.sent_to(ALERT_PHONE)
    seed_sends = sum(len(fake_at.sent_to(p)) for p in seeded)
    figures.update(
        {
            "request alert: owed before Redis went": len(owed_before),
            "request alert: restart to sent, s": round(sent, 2),
            "request alert: SMS sent": len(alerts),
            "request alert: SMS to the demo city's citizens": seed_sends,
            "request alert: restart to checked, s": round(time.monotonic() - emptied, 2),
        }
    )
    assert owed_before == [(ref, 1)]  # the seeded requests owe nothing
    assert len(alerts) == 1 and ref in alerts[0].form["message"]
    assert backend.owed_alerts(datetime.now(UTC) + timedelta(hours=1), 100) == []
    assert seed_sends == 0
