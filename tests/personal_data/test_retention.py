"""Retention deletes and anonymises on time, by a clock the test moves; /metrics counts it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from rq import Queue

from civic import sql as civic_sql
from civic import sql_tables as civic_tables
from civic.workflow import FINAL
from gateway.config import Settings
from gateway.container import personal_data_stores, retention_policy
from payments import tables as payment_tables
from payments.review_store import ReviewStore
from personal_data.collectors import Stores, events_key
from personal_data.jobs import RETENTION_QUEUE, schedule_retention
from personal_data.retention import ERASED, RetentionPolicy, RetentionSweeper, counts_key
from runtime import keys
from runtime.jobs import InlineJobs
from sms import tables as sms_tables
from sms.store import MessageStore
from tests.personal_data.conftest import CITIZEN, Citizen

DAY = timedelta(days=1)
POLICY = RetentionPolicy(
    requests_days=3650, payments_days=3650, messages_days=30, events_days=90, appointments_days=365
)
NOTHING = {"requests": 0, "payments": 0, "messages": 0, "events": 0, "appointments": 0}


@pytest.fixture
def stores(citizen: Citizen) -> Stores:
    settings: Settings = citizen.app.config["SETTINGS"]
    return personal_data_stores(settings, citizen.redis)


def owners(stores: Stores) -> dict[str, str]:
    """Return each request's reference -> `status:owner_phone`."""
    t = civic_sql.requests
    with stores.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.reference, t.c.status, t.c.owner_phone)).all()
    return {r.reference: f"{r.status}:{r.owner_phone}" for r in rows}


def booked(stores: Stores) -> list[tuple[date, str]]:
    """Return each appointment's (day, phone)."""
    t = civic_tables.appointments
    with stores.engine.connect() as conn:
        return [(r.day, r.phone) for r in conn.execute(sa.select(t.c.day, t.c.phone))]


def logged(stores: Stores) -> int:
    """Return the rows of the durable SMS log (sms_messages)."""
    with stores.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(sms_tables.messages)).scalar_one()
        )


def test_each_class_goes_the_day_its_retention_ends_and_not_before(
    citizen: Citizen, stores: Stores
) -> None:
    citizen.live_everything()
    citizen.session_ended()
    now = datetime.now(UTC)
    sweeper = RetentionSweeper(stores, POLICY, clock=lambda: now)
    messages = len(list(citizen.redis.scan_iter(MessageStore.key("*")))) + logged(stores)
    assert messages >= 12 and citizen.redis.xlen(events_key()) == 2
    assert sweeper.sweep() == NOTHING
    assert sweeper.sweep(now + 29 * DAY) == NOTHING
    assert sweeper.sweep(now + 31 * DAY) == {**NOTHING, "messages": messages}
    assert list(citizen.redis.scan_iter(MessageStore.key("*"))) == []
    assert sweeper.sweep(now + 89 * DAY) == NOTHING
    assert sweeper.sweep(now + 91 * DAY) == {**NOTHING, "events": 2}
    # The booking (tomorrow at the earliest, within two weeks) keeps its phone a year after its day.
    [(day, phone)] = booked(stores)
    assert phone == CITIZEN
    until = datetime.combine(day, datetime.min.time(), UTC) + 365 * DAY - now
    assert sweeper.sweep(now + until) == NOTHING
    assert sweeper.sweep(now + until + DAY) == {**NOTHING, "appointments": 1}
    assert booked(stores) == [(day, "ref:" + stores.phone_ref(CITIZEN))]
    before = owners(stores)
    assert sweeper.sweep(now + 3649 * DAY) == NOTHING
    assert owners(stores) == before

    counts = sweeper.sweep(now + 3651 * DAY)
    closed = {ref for ref, seen in before.items() if seen.split(":")[0] in {s.value for s in FINAL}}
    assert counts["requests"] == len(closed) >= 2  # the demo city's delivered and rejected ones
    assert counts["payments"] >= 3  # the tax payment, both intents, their callbacks
    ref = "ref:" + stores.phone_ref(CITIZEN)
    after = owners(stores)
    for reference, seen in after.items():
        _status, phone = seen.split(":", 1)
        assert phone == (ref if reference in closed else CITIZEN), reference
    t = civic_sql.requests
    with stores.engine.connect() as conn:
        kept = conn.execute(
            sa.select(t.c.applicant_name, t.c.id_number, t.c.dossier, t.c.status, t.c.fee)
            .where(t.c.reference.in_(closed))
        ).all()  # fmt: skip
        phones = conn.execute(sa.text("SELECT phone FROM civic_payments")).scalars().all()
    assert all(r.applicant_name is None and r.id_number is None and r.dossier is None for r in kept)
    assert all(r.status for r in kept)  # the record stays, without its person
    assert CITIZEN not in phones and ref in phones
    assert sweeper.sweep(now + 3652 * DAY) == NOTHING  # nothing twice


def test_metrics_count_what_retention_removed(citizen: Citizen, stores: Stores) -> None:
    citizen.pay_a_tax()
    messages = len(list(citizen.redis.scan_iter(MessageStore.key("*")))) + logged(stores)
    RetentionSweeper(stores, POLICY).sweep(datetime.now(UTC) + 31 * DAY)
    page = citizen.client.get("/metrics").get_data(as_text=True)
    assert f'guichet_retention_total{{class="messages"}} {messages}' in page
    assert 'guichet_retention_total{class="requests"} 0' in page


def test_the_job_sweeps_then_schedules_its_next_tick(citizen: Citizen) -> None:
    settings: Settings = citizen.app.config["SETTINGS"]
    assert retention_policy(settings).messages_days == settings.retention_messages_days == 30
    clock_now = [1_000_000.0]
    jobs = InlineJobs(clock=lambda: clock_now[0], tick_seconds=None)
    schedule_retention(jobs, 3600, now=clock_now[0])
    assert citizen.redis.exists(counts_key()) == 0
    clock_now[0] = (clock_now[0] // 3600 + 1) * 3600 + 1
    assert jobs.run_due() == 1
    assert set(citizen.redis.hgetall(counts_key())) == {
        b"requests",
        b"payments",
        b"messages",
        b"events",
        b"appointments",
    }
    # The next tick went to rq (the app's job port), on the queue the worker listens to.
    scheduled = Queue(keys.queue(RETENTION_QUEUE), connection=citizen.redis)
    scheduled = scheduled.scheduled_job_registry
    assert any(job_id.startswith(keys.job_id("retention-")) for job_id in scheduled.get_job_ids())


def test_a_refund_note_goes_with_the_payments_it_explains(stores: Stores) -> None:
    payment_tables.metadata.create_all(stores.engine, checkfirst=True)
    reviews = ReviewStore(stores.engine)
    assert reviews.add_review(dedupe_key="r:1", provider="sandbox", reason="x", detail="d")
    [review] = reviews.list_reviews()
    assert reviews.mark_refunded(review.id, note="cash back to Ana K.", marked_by="sup@city")
    now = datetime.now(UTC)
    sweeper = RetentionSweeper(stores, POLICY, clock=lambda: now)
    sweeper.sweep(now + 3649 * DAY)
    assert reviews.refunds()[review.id].note == "cash back to Ana K."
    sweeper.sweep(now + 3651 * DAY)
    kept = reviews.refunds()[review.id]
    assert kept.note == ERASED  # the mark stays (who, when), its words go
    assert kept.marked_by == "sup@city"
