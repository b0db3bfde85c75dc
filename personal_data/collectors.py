"""One collector per store of personal data: what it holds about a phone, and how to erase it.

`export(phone)` returns the store's records about the phone as JSON-ready dicts; `erase(phone,
ref)` removes what the law lets go and replaces the phone by `ref` (its keyed hash) where a
record must be kept (payments, receipts, requests), and returns how many records it changed.
A new store (a SQL message log, preferences in SQL) adds one small collector to
`build_collectors`. Values sealed at rest (ID numbers, dates of birth) leave masked: an export
is a file that travels; the agent shows them whole at the counter (the dossier view).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, cast

import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from civic import sql as civic
from civic import sql_tables as civic_tables
from civic.appointments import BookingStatus
from civic.cipher import mask_value
from payments import tables as pay
from runtime import keys
from runtime.sealing import Sealer, is_sealed
from sms import tables as sms_tables
from sms.providers.console import outbox_key
from sms.store import MessageStore, text

ERASED: Final = "[erased]"
_SCAN_BATCH: Final = 500

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Collector:
    """What one store holds about a phone (`export`) and how it lets it go (`erase`)."""

    name: str
    export: Callable[[str], list[Record]]
    erase: Callable[[str, str], int]  # (phone, keyed ref) -> records changed


@dataclass(frozen=True, slots=True)
class Stores:
    """Where personal data lives: the SQL database, Redis, the cipher of sealed values."""

    engine: Engine
    redis: redis.Redis
    cipher: Sealer
    phone_ref: Callable[[str], str]
    civic_sql: bool = True  # False when the city's portal holds requests (CIVIC_BACKEND=http)
    # sms.derived_keys.preference_ref: the key of a phone's row in sms_preferences (another key).
    preference_ref: Callable[[str], str] = lambda phone: phone


def build_collectors(stores: Stores) -> list[Collector]:
    """Return every collector, SQL first (the order of an export)."""
    civic_side = (
        [
            requests_collector(stores),
            citizens_collector(stores),
            civic_payments_collector(stores),
            appointments_collector(stores),
        ]
        if stores.civic_sql
        else []  # the portal answers for its own records
    )
    return [
        *civic_side,
        payment_intents_collector(stores),
        preferences_collector(stores),
        sql_preferences_collector(stores),
        sql_messages_collector(stores),
        sessions_collector(stores),
        messages_collector(stores),
        inbound_collector(stores),
        events_collector(stores),
        outbox_collector(stores),
    ]


def events_key() -> str:
    """Return gateway.ussd_events.stream_key() (the edge sits above: a test keeps them equal)."""
    return keys.key("ussd", keys.tag("events"))


def jsonable(value: Any) -> Any:
    """Return `value` as JSON can carry it (dates as ISO 8601)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def _row(row: Any) -> Record:  # any sa.Row
    return {k: jsonable(v) for k, v in row._mapping.items()}


def _masked(cipher: Sealer, value: str | None) -> str | None:
    # A sealed value leaves masked; a plain legacy one too if it was sealed by nature.
    return mask_value(cipher.open(value)) if value else value


# --- SQL ------------------------------------------------------------------------------------


def requests_collector(s: Stores) -> Collector:
    """Document requests filed from the phone, with their history; kept anonymised."""
    t, h = civic.requests, civic.request_history

    def export(phone: str) -> list[Record]:
        with s.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.owner_phone == phone)).all()
            out = []
            for row in rows:
                record = _row(row)
                record["id_number"] = _masked(s.cipher, row.id_number)
                record["dossier"] = {
                    k: _masked(s.cipher, v) if is_sealed(v) else v
                    for k, v in (row.dossier or {}).items()
                }
                record.pop("idempotency_key", None)  # names the USSD session: not about them
                history = conn.execute(
                    sa.select(h).where(h.c.reference == row.reference).order_by(h.c.seq)
                ).all()
                record["history"] = [_row(e) for e in history]
                out.append(record)
        return out

    def erase(phone: str, ref: str) -> int:
        # The request stays in the city's register (its status, dates, fee) without its person.
        with s.engine.begin() as conn:
            refs = [
                r.reference
                for r in conn.execute(sa.select(t.c.reference).where(t.c.owner_phone == phone))
            ]
            if not refs:
                return 0
            conn.execute(
                t.update()
                .where(t.c.reference.in_(refs))
                .values(owner_phone=ref, applicant_name=None, id_number=None, dossier=None)
            )
            conn.execute(h.update().where(h.c.reference.in_(refs)).values(reason=None, pickup=None))
        return len(refs)

    return Collector("requests", export, erase)


def citizens_collector(s: Stores) -> Collector:
    """The city's register entry of the phone (name, ID number, language); deleted."""
    t = civic.citizens

    def export(phone: str) -> list[Record]:
        with s.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.phone == phone)).all()
        return [{**_row(r), "id_number": _masked(s.cipher, r.id_number)} for r in rows]

    def erase(phone: str, _ref: str) -> int:
        with s.engine.begin() as conn:
            return int(conn.execute(t.delete().where(t.c.phone == phone)).rowcount)

    return Collector("citizen", export, erase)


def appointments_collector(s: Stores) -> Collector:
    """Appointments booked from the phone; kept anonymised (the counter's statistics).

    A booking still to come is cancelled by the erasure: its place goes back to the others and
    no reminder can reach a number that is no longer there.
    """
    t = civic_tables.appointments

    def export(phone: str) -> list[Record]:
        with s.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.phone == phone).order_by(t.c.day)).all()
        return [{k: v for k, v in _row(r).items() if k != "idempotency_key"} for r in rows]

    def erase(phone: str, ref: str) -> int:
        with s.engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.phone == phone, t.c.status == BookingStatus.BOOKED.value)
                .values(status=BookingStatus.CANCELLED.value, seat=None, remind_from=None)
            )
            changed = conn.execute(
                t.update().where(t.c.phone == phone).values(phone=ref, agent_id=None)
            )
            return int(changed.rowcount)

    return Collector("appointments", export, erase)


def civic_payments_collector(s: Stores) -> Collector:
    """Taxes and payables (school fees, licences) recorded as paid by the phone; kept with the
    phone anonymised (accounting records)."""
    paid = (civic.payments, civic_tables.payable_payments)

    def export(phone: str) -> list[Record]:
        with s.engine.connect() as conn:
            return [
                _row(r) for t in paid for r in conn.execute(sa.select(t).where(t.c.phone == phone))
            ]

    def erase(phone: str, ref: str) -> int:
        with s.engine.begin() as conn:
            return sum(
                int(conn.execute(t.update().where(t.c.phone == phone).values(phone=ref)).rowcount)
                for t in paid
            )

    return Collector("payments", export, erase)


def payment_intents_collector(s: Stores) -> Collector:
    """Payment intents of the phone with their receipts; kept, phone anonymised, raw operator
    callbacks (which carry the MSISDN) emptied."""
    i, r, c, v = pay.intents, pay.receipts, pay.callbacks, pay.reviews

    def export(phone: str) -> list[Record]:
        with s.engine.connect() as conn:
            out = []
            for row in conn.execute(sa.select(i).where(i.c.phone == phone)).all():
                record = _row(row)
                record.pop("idempotency_key", None)
                receipts = conn.execute(sa.select(r).where(r.c.intent_id == row.id)).all()
                record["receipts"] = [_row(x) for x in receipts]
                out.append(record)
        return out

    def erase(phone: str, ref: str) -> int:
        with s.engine.begin() as conn:
            ids = [x.id for x in conn.execute(sa.select(i.c.id).where(i.c.phone == phone))]
            if not ids:
                return 0
            conn.execute(c.update().where(c.c.intent_hint.in_(ids)).values(body=ERASED))
            conn.execute(v.update().where(v.c.intent_id.in_(ids)).values(detail=ERASED))
            conn.execute(i.update().where(i.c.id.in_(ids)).values(phone=ref))
        return len(ids)

    return Collector("payment_intents", export, erase)


# --- Redis ----------------------------------------------------------------------------------


def _scan(client: redis.Redis, pattern: str) -> Iterator[str]:
    for key in client.scan_iter(match=pattern, count=_SCAN_BATCH):
        yield text(key)


def preferences_collector(s: Stores) -> Collector:
    """The language under the phone's key in Redis (STOP lives in SQL: sms_preferences).
    Erasure forgets the language and keeps STOP: dropping an objection would start sending
    notices again, the opposite of what the citizen asked."""

    def export(phone: str) -> list[Record]:
        lang = s.redis.get(keys.phone_language(phone))
        # keys.NO_LANGUAGE only says "none chosen": nothing about the citizen to export.
        if lang is None or text(lang) == keys.NO_LANGUAGE:
            return []
        return [{"language": text(lang)}]

    def erase(phone: str, _ref: str) -> int:
        # The language, and the cache of the SQL preferences (it would bring it back a day).
        cache = keys.key("sms", "pref", s.preference_ref(phone))
        return int(s.redis.delete(keys.phone_language(phone), cache))

    return Collector("preferences", export, erase)


def sql_preferences_collector(s: Stores) -> Collector:
    """STOP and language in SQL (sms_preferences, by a keyed hash); STOP is kept on erasure."""
    t = sms_tables.preferences

    def export(phone: str) -> list[Record]:
        with s.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.opted_out, t.c.lang, t.c.updated_at).where(
                    t.c.phone_ref == s.preference_ref(phone)
                )
            ).all()
        return [_row(r) for r in rows]

    def erase(phone: str, _ref: str) -> int:
        with s.engine.begin() as conn:
            changed = conn.execute(
                t.update().where(t.c.phone_ref == s.preference_ref(phone)).values(lang=None)
            )
        return int(changed.rowcount)

    return Collector("sms_preferences", export, erase)


def sql_messages_collector(s: Stores) -> Collector:
    """The durable SMS message log (sms_messages, by the keyed phone hash); deleted."""
    t = sms_tables.messages
    shown = (t.c.id, t.c.template, t.c.lang, t.c.status, t.c.params, t.c.created_at)

    def export(phone: str) -> list[Record]:
        with s.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*shown)
                .where(t.c.phone_ref == s.phone_ref(phone))
                .order_by(t.c.created_at)
            ).all()
        return [{**_row(r), "params": json.loads(r.params or "{}")} for r in rows]

    def erase(phone: str, _ref: str) -> int:
        with s.engine.begin() as conn:
            return int(conn.execute(t.delete().where(t.c.phone_ref == s.phone_ref(phone))).rowcount)

    return Collector("sms_log", export, erase)


def _phone_keys(phone: str) -> list[str]:
    # Keys named by the phone: resume snapshot, rate-limit buckets, the reply notice.
    return [
        keys.key("ussd", "resume", keys.tag(phone)),
        keys.key("ussd", "rl", keys.tag(phone)),
        keys.key("sms", "replies", "notified", phone),
    ]


def sessions_collector(s: Stores) -> Collector:
    """Live USSD sessions of the phone, its resume snapshot and its rate-limit buckets."""

    def sessions(phone: str) -> list[tuple[str, Record]]:
        found = []
        for key in _scan(s.redis, keys.key("ussd", "s", "*")):
            raw = s.redis.get(key)
            if raw is None:
                continue
            data = json.loads(raw)
            if isinstance(data, dict) and data.get("p") == phone:
                # The names of what was typed, not the values: a live session's answers hold
                # a dossier in clear (dates of birth) for the minutes of its TTL.
                answers = sorted(data.get("d") or {})
                found.append((key, {"session": data.get("i"), "screen": data.get("s"),
                                    "answers": answers}))  # fmt: skip
        return found

    def limit_keys(phone: str) -> list[str]:
        return list(_scan(s.redis, keys.key("rl", "*", keys.tag(phone))))

    def export(phone: str) -> list[Record]:
        out = [record for _key, record in sessions(phone)]
        if s.redis.exists(_phone_keys(phone)[0]):
            out.append({"resume_snapshot": True})
        limits = [k for k in _phone_keys(phone)[1:] if s.redis.exists(k)] + limit_keys(phone)
        if limits:
            out.append({"rate_limits": len(limits)})
        return out

    def erase(phone: str, _ref: str) -> int:
        keys = [key for key, _ in sessions(phone)] + _phone_keys(phone) + limit_keys(phone)
        return int(s.redis.delete(*keys)) if keys else 0

    return Collector("ussd_sessions", export, erase)


def _message_keys(s: Stores, phone: str) -> Iterator[tuple[str, Mapping[str, str]]]:
    ref = s.phone_ref(phone)
    for key in _scan(s.redis, MessageStore.key("*")):
        raw = cast("dict[bytes, bytes]", s.redis.hgetall(key))
        fields = {text(k): text(v) for k, v in raw.items()}
        if fields.get("phone_ref") == ref or fields.get("phone") == phone:
            yield key, fields


def messages_collector(s: Stores) -> Collector:
    """The SMS message log of the phone (template, parameters, status; no text once sent)."""
    shown = ("id", "template", "lang", "status", "params", "created_at", "reason")

    def export(phone: str) -> list[Record]:
        out = []
        for _key, fields in _message_keys(s, phone):
            record: Record = {k: fields.get(k, "") for k in shown}
            record["params"] = json.loads(record["params"] or "{}")
            record["created_at"] = datetime.fromtimestamp(float(fields["created_at"])).isoformat()
            out.append(record)
        return sorted(out, key=lambda r: str(r["created_at"]))

    def erase(phone: str, _ref: str) -> int:
        keys = [key for key, _ in _message_keys(s, phone)]
        return int(s.redis.delete(*keys)) if keys else 0

    return Collector("sms_messages", export, erase)


def inbound_collector(s: Stores) -> Collector:
    """Inbound SMS of the phone still waiting for (or kept after) their job."""

    def found(phone: str) -> list[tuple[str, Record]]:
        out = []
        for key in _scan(s.redis, keys.key("sms", "cbdata", "inbound", "*")):
            raw = s.redis.get(key)
            payload = json.loads(raw) if raw else {}
            if payload.get("from") == phone:
                out.append((key, {"text": payload.get("text"), "date": payload.get("date")}))
        return out

    def export(phone: str) -> list[Record]:
        return [record for _key, record in found(phone)]

    def erase(phone: str, _ref: str) -> int:
        # The payloads, and the dedupe markers named by the sender's number.
        names = [key for key, _ in found(phone)]
        names += _scan(s.redis, keys.key("sms", "cb", "inbound", keys.tag(phone), "*"))
        return int(s.redis.delete(*names)) if names else 0

    return Collector("sms_inbound", export, erase)


def events_collector(s: Stores) -> Collector:
    """USSD end-of-session events, which name the phone by its keyed hash only."""

    def found(phone: str) -> list[tuple[str, Record]]:
        ref = s.phone_ref(phone)
        out = []
        entries = cast("list[tuple[bytes, dict[bytes, bytes]]]", s.redis.xrange(events_key()))
        for entry_id, fields in entries:
            record = {text(k): text(v) for k, v in fields.items()}
            if record.get("phone_ref") == ref:
                out.append((text(entry_id), record))
        return out

    def export(phone: str) -> list[Record]:
        return [record for _id, record in found(phone)]

    def erase(phone: str, _ref: str) -> int:
        ids = [entry_id for entry_id, _ in found(phone)]
        return int(s.redis.xdel(events_key(), *ids)) if ids else 0

    return Collector("ussd_events", export, erase)


def outbox_collector(s: Stores) -> Collector:
    """The console provider's outbox (development): SMS as they would have been sent."""

    def entries(phone: str) -> list[tuple[bytes, Record]]:
        out = []
        for raw in cast("list[bytes]", s.redis.lrange(outbox_key(), 0, -1)):
            entry = json.loads(raw)
            if entry.get("to") == phone:
                out.append((raw, {"text": entry.get("text"), "at": entry.get("at")}))
        return out

    def export(phone: str) -> list[Record]:
        return [record for _raw, record in entries(phone)]

    def erase(phone: str, _ref: str) -> int:
        removed = 0
        for raw, _ in entries(phone):
            removed += int(s.redis.lrem(outbox_key(), 0, text(raw)))
        return removed

    return Collector("sms_outbox", export, erase)
