"""Retention enforced: a periodic job deletes or anonymises what outlived its class's setting.

Classes and defaults: personal_data.yaml `retention`, settings RETENTION_*_DAYS. Redis TTLs
already drop sessions, resume snapshots, limits and callbacks; this job does the rest:

- requests: a closed request (delivered, rejected, expired) unchanged for RETENTION_REQUESTS_DAYS
  keeps its status, dates and fee; its phone becomes a keyed hash, applicant, ID and dossier go;
- payments: after RETENTION_PAYMENTS_DAYS, payments and intents keep amounts, dates and
  receipt codes, the phone becomes a keyed hash and raw operator callbacks are emptied;
- messages: SMS log records older than RETENTION_MESSAGES_DAYS are deleted;
- events: USSD events older than RETENTION_EVENTS_DAYS are trimmed from the stream;
- appointments: RETENTION_APPOINTMENTS_DAYS after its day, a booking keeps service, day and
  status; its phone becomes a keyed hash and the marking agent's id goes.

Time comes from the caller (`sweep(now)`): tests move it, nothing sleeps. Counts go to a Redis
hash that /metrics shows (`guichet_retention_total{class}`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import sqlalchemy as sa

from civic import sql as civic
from civic import sql_tables as civic_tables
from civic.workflow import FINAL
from payments import tables as pay
from personal_data.collectors import ERASED, Stores, events_key
from runtime import keys
from sms import tables as sms_tables
from sms.store import MessageStore, text

log = logging.getLogger(__name__)

_ACTIVE_INTENTS: Final = ("pending", "pushing", "pushed")
_BATCH: Final = 500


def counts_key() -> str:
    """Return the hash of records deleted or anonymised, by class (/metrics)."""
    return keys.key("personal_data", "retention")


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days each class is kept (0: never touched by the job)."""

    requests_days: int
    payments_days: int
    messages_days: int
    events_days: int
    appointments_days: int = 0


class RetentionSweeper:
    """Apply a RetentionPolicy to the SQL database and Redis at a given time."""

    def __init__(
        self,
        stores: Stores,
        policy: RetentionPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._s = stores
        self._policy = policy
        self._clock = clock

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Run every class once; return and count what each deleted or anonymised."""
        now = self._clock() if now is None else now
        p = self._policy
        counts = {
            "requests": self._requests(now - timedelta(days=p.requests_days))
            if p.requests_days and self._s.civic_sql
            else 0,
            "payments": self._payments(now - timedelta(days=p.payments_days))
            if p.payments_days
            else 0,
            "messages": self._messages(now - timedelta(days=p.messages_days))
            if p.messages_days
            else 0,
            "events": self._events(now - timedelta(days=p.events_days)) if p.events_days else 0,
            "appointments": self._appointments(now - timedelta(days=p.appointments_days))
            if p.appointments_days and self._s.civic_sql
            else 0,
        }
        pipe = self._s.redis.pipeline(transaction=False)
        for name, count in counts.items():
            pipe.hincrby(counts_key(), name, count)
        pipe.execute()
        log.info("retention: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
        return counts

    def _ref(self, phone: str) -> str:
        return phone if phone.startswith("ref:") else "ref:" + self._s.phone_ref(phone)

    def _requests(self, cutoff: datetime) -> int:
        t, h = civic.requests, civic.request_history
        recent = sa.select(h.c.reference).where(h.c.reference == t.c.reference, h.c.at >= cutoff)
        query = (
            sa.select(t.c.reference, t.c.owner_phone)
            .where(
                t.c.status.in_([s.value for s in FINAL]),
                t.c.created_at < cutoff,
                ~t.c.owner_phone.startswith("ref:"),
                ~sa.exists(recent),
            )
            .limit(_BATCH)
        )
        done = 0
        with self._s.engine.begin() as conn:
            for row in conn.execute(query).all():
                conn.execute(
                    t.update()
                    .where(t.c.reference == row.reference)
                    .values(
                        owner_phone=self._ref(row.owner_phone),
                        applicant_name=None,
                        id_number=None,
                        dossier=None,
                    )
                )
                conn.execute(
                    h.update()
                    .where(h.c.reference == row.reference)
                    .values(reason=None, pickup=None)
                )
                done += 1
        return done

    def _appointments(self, cutoff: datetime) -> int:
        # The booking stays (the counter's statistics), without the phone that made it.
        t = civic_tables.appointments
        query = (
            sa.select(t.c.code, t.c.phone)
            .where(t.c.day < cutoff.date(), ~t.c.phone.startswith("ref:"))
            .limit(_BATCH)
        )
        done = 0
        with self._s.engine.begin() as conn:
            for row in conn.execute(query).all():
                conn.execute(
                    t.update()
                    .where(t.c.code == row.code)
                    .values(phone=self._ref(row.phone), agent_id=None)
                )
                done += 1
        return done

    def _payments(self, cutoff: datetime) -> int:
        c, i, cb, rv = civic.payments, pay.intents, pay.callbacks, pay.reviews
        naive = cutoff.astimezone(UTC).replace(tzinfo=None)  # payments tables store naive UTC
        done = 0
        with self._s.engine.begin() as conn:
            # Taxes and payables (school fees, licences) the city recorded as paid.
            for t in (c, civic_tables.payable_payments) if self._s.civic_sql else ():
                rows = conn.execute(
                    sa.select(t.c.payment_id, t.c.phone)
                    .where(t.c.paid_at < cutoff, ~t.c.phone.startswith("ref:"))
                    .limit(_BATCH)
                ).all()
                for row in rows:
                    conn.execute(
                        t.update()
                        .where(t.c.payment_id == row.payment_id)
                        .values(phone=self._ref(row.phone))
                    )
                done += len(rows)
            intents = conn.execute(
                sa.select(i.c.id, i.c.phone)
                .where(
                    i.c.created_at < naive,
                    i.c.status.notin_(_ACTIVE_INTENTS),
                    ~i.c.phone.startswith("ref:"),
                )
                .limit(_BATCH)
            ).all()
            for row in intents:
                conn.execute(i.update().where(i.c.id == row.id).values(phone=self._ref(row.phone)))
            done += len(intents)
            done += conn.execute(
                cb.update()
                .where(
                    cb.c.received_at < naive, cb.c.processed_at.is_not(None), cb.c.body != ERASED
                )
                .values(body=ERASED)
            ).rowcount
            done += conn.execute(
                rv.update()
                .where(rv.c.created_at < naive, rv.c.detail != ERASED)
                .values(detail=ERASED)
            ).rowcount
            done += conn.execute(
                pay.refunds.update()
                .where(pay.refunds.c.marked_at < naive, pay.refunds.c.note != ERASED)
                .values(note=ERASED)
            ).rowcount
        return int(done)

    def _messages(self, cutoff: datetime) -> int:
        t = sms_tables.messages
        naive = cutoff.astimezone(UTC).replace(tzinfo=None)
        with self._s.engine.begin() as conn:
            if sa.inspect(conn).has_table(t.name):  # created at the log's first write
                logged = int(conn.execute(t.delete().where(t.c.created_at < naive)).rowcount)
            else:
                logged = 0
        return logged + self._redis_messages(cutoff)

    def _redis_messages(self, cutoff: datetime) -> int:
        limit = cutoff.timestamp()
        client = self._s.redis
        old = []
        for key in client.scan_iter(match=MessageStore.key("*"), count=_BATCH):
            created = client.hget(key, "created_at")
            if created is not None and float(text(created)) < limit:
                old.append(key)
        return int(client.delete(*old)) if old else 0

    def _events(self, cutoff: datetime) -> int:
        # Stream ids are milliseconds since the epoch: MINID drops every entry before it.
        return int(self._s.redis.xtrim(events_key(), minid=int(cutoff.timestamp() * 1000)))
