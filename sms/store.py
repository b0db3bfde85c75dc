"""Message records in Redis: created once per idempotency key, moved by atomic transitions.

Production Redis must persist (appendonly yes, AOF): a message record is the only proof of
what was queued, sent or refused, and idempotency keys are what prevent a second send.

The record is a log, not a copy of the SMS: it keeps the template, the language, the
parameters with secret ones masked (the OTP code), the phone masked and its keyed ref. The
two things only the deliver job needs, the full number (`phone`) and the rendered text
(`text`), live in the record only while a job may still send it (`queued`, `sending`) and are
deleted by the same script that moves it on; a refused message never has them.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, cast

import redis

from runtime import keys
from runtime.logs import current_phone_ref
from runtime.masking import mask_phone

MESSAGE_TTL_SECONDS: Final = 30 * 24 * 3600
# Counter per status reached (what /metrics exports), and the ids of messages a job still
# has to move (`queued` or `sending`), scored by when they are overdue (sms.sweeper).
# Refused messages are never silent: a counter per template and reason (/metrics) and an index
# of the latest ids (`python -m gateway sms outbox --refused`), both written by the create script.
REFUSED_INDEX_SIZE: Final = 10000


def sms_key(*parts: str) -> str:
    """Return a key of the SMS log. One Cluster slot (`{sms}`): its scripts touch several."""
    return keys.key(keys.tag("sms"), *parts)


def status_counts_key() -> str:
    """Return the hash of how many messages reached each status."""
    return sms_key("metrics", "status")


def pending_key() -> str:
    """Return the sorted set of `queued` or `sending` ids, scored by when they are overdue."""
    return sms_key("pending")


def refused_counts_key() -> str:
    """Return the hash of refused messages, field "<template>|<reason>"."""
    return sms_key("metrics", "refused")


def refused_index_key() -> str:
    """Return the sorted set of the latest refused ids, scored by time."""
    return sms_key("refused")


# Create the record and claim the idempotency key in one step: two concurrent sends with
# the same key can never both create a message. The status counter and the pending index
# ride in the same script: no extra round trip.
# KEYS: idempotency key, record, status counts, pending, refused counts, refused index.
# ARGV: id, ttl, status, now, refusal ("<template>|<reason>"), index size, fields...
_CREATE: Final = """
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 7))
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
if ARGV[3] == 'queued' then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1]) end
if ARGV[3] == 'refused' then
  redis.call('HINCRBY', KEYS[5], ARGV[5], 1)
  redis.call('ZADD', KEYS[6], ARGV[4], ARGV[1])
  redis.call('ZREMRANGEBYRANK', KEYS[6], 0, -1 - tonumber(ARGV[6]))
end
return {1, ARGV[1]}
"""
# Compare-and-set on the status: the move happens only from one of the expected states.
# KEYS: record, status counts, pending. ARGV: id, to, n, expected x n, due at ('' = now),
# fields... (the id rides as an argument: the script never parses it out of the key).
_TRANSITION: Final = """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {0, ''} end
local id, to, count = ARGV[1], ARGV[2], tonumber(ARGV[3])
for i = 4, 3 + count do
  if current == ARGV[i] then
    redis.call('HSET', KEYS[1], 'status', to, unpack(ARGV, 5 + count))
    if current ~= to then redis.call('HINCRBY', KEYS[2], to, 1) end
    if to == 'queued' or to == 'sending' then
      redis.call('ZADD', KEYS[3], ARGV[4 + count], id)
    else
      redis.call('ZREM', KEYS[3], id)
      redis.call('HDEL', KEYS[1], 'phone', 'text')  -- never sent again: forget number and text
    end
    return {1, current}
  end
end
return {0, current}
"""

# `sending` -> `sent` with the provider's answer (as _TRANSITION would), then link the
# provider's id to ours and take the delivery reports parked under it: linking and taking
# happen whatever the status (a report for a message we failed must still find it).
# KEYS: record, status counts, pending, provider link, parked reports.
# ARGV: id, provider id ('' = none), provider status, now, ttl, cost.
_ACCEPT: Final = """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {0, '', {}} end
local moved = 0
if current == 'sending' then
  redis.call('HSET', KEYS[1], 'status', 'sent', 'provider_id', ARGV[2],
    'provider_status', ARGV[3], 'reason', '', 'updated_at', ARGV[4], 'cost', ARGV[6])
  redis.call('HDEL', KEYS[1], 'phone', 'text')
  redis.call('HINCRBY', KEYS[2], 'sent', 1)
  redis.call('ZREM', KEYS[3], ARGV[1])
  moved = 1
end
local reports = {}
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[5])
  reports = redis.call('LRANGE', KEYS[5], 0, -1)
  redis.call('DEL', KEYS[5])
end
return {moved, current, reports}
"""


# Scrub a record that left the queue: keep the masked number and its ref, forget number and
# text. KEYS: record. ARGV: masked phone, phone ref.
_SCRUB: Final = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'queued' or status == 'sending' then return 0 end
if redis.call('HEXISTS', KEYS[1], 'phone') == 0 and redis.call('HEXISTS', KEYS[1], 'text') == 0
then return 0 end
redis.call('HSETNX', KEYS[1], 'phone_masked', ARGV[1])
redis.call('HSETNX', KEYS[1], 'phone_ref', ARGV[2])
redis.call('HDEL', KEYS[1], 'phone', 'text')
return 1
"""


def idem_digest(idempotency_key: str) -> str:
    """Return the stored form of a caller's idempotency key (it may name a phone)."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()


def text(raw: bytes | str) -> str:
    """Return a Redis reply as text (the client may or may not decode responses)."""
    return raw.decode() if isinstance(raw, bytes) else raw


class Status(StrEnum):
    """Where a message stands; the last four never change once reached."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    REFUSED = "refused"  # never handed to a provider (opted out, budget, destination)


FINAL: Final = frozenset({Status.FAILED, Status.DELIVERED, Status.UNDELIVERED, Status.REFUSED})


@dataclass(frozen=True, slots=True)
class Message:
    """One logical SMS and what happened to it (`phone` and `text` only until it is sent)."""

    id: str
    phone: str  # the full number: "" once the message left the queue (sent, failed, refused)
    template: str
    lang: str
    text: str  # the rendered SMS: "" once the message left the queue
    status: Status
    essential: bool
    created_at: float
    updated_at: float
    phone_masked: str = ""
    phone_ref: str = ""  # keyed hash (runtime.logs): correlates messages of one number
    params: Mapping[str, str] = field(default_factory=dict)  # secret ones masked
    attempts: int = 0
    segments: int = 0
    encoding: str = ""
    reason: str = ""  # why it was refused or failed
    provider_id: str = ""
    provider_status: str = ""
    sending_since: float = 0.0
    cost: str = ""  # the provider's price of the message, as it says it ("KES 0.8000")

    @classmethod
    def from_hash(cls, raw: Mapping[bytes | str, bytes | str]) -> Message:
        """Build a message from its Redis hash."""
        fields = {text(k): text(v) for k, v in raw.items()}
        return cls(
            id=fields["id"],
            phone=fields.get("phone", ""),
            template=fields["template"],
            lang=fields["lang"],
            text=fields.get("text", ""),
            status=Status(fields["status"]),
            essential=fields.get("essential") == "1",
            phone_masked=fields.get("phone_masked", ""),
            phone_ref=fields.get("phone_ref", ""),
            params=json.loads(fields.get("params") or "{}"),
            created_at=float(fields["created_at"]),
            updated_at=float(fields.get("updated_at", fields["created_at"])),
            attempts=int(fields.get("attempts", "0")),
            segments=int(fields.get("segments", "0")),
            encoding=fields.get("encoding", ""),
            reason=fields.get("reason", ""),
            provider_id=fields.get("provider_id", ""),
            provider_status=fields.get("provider_status", ""),
            sending_since=float(fields.get("sending_since", "0") or 0),
            cost=fields.get("cost", ""),
        )


@dataclass(frozen=True, slots=True)
class Transition:
    """The outcome of a compare-and-set: whether it moved, and the status it found."""

    moved: bool
    found: Status | None


class MessageStore:
    """Message records keyed by id, idempotency keys pointing at them."""

    def __init__(self, client: redis.Redis, *, ttl_seconds: int = MESSAGE_TTL_SECONDS) -> None:
        self._redis = client
        self._ttl = ttl_seconds
        self._create = client.register_script(_CREATE)
        self._transition = client.register_script(_TRANSITION)
        self._accept = client.register_script(_ACCEPT)
        self._scrub = client.register_script(_SCRUB)

    @staticmethod
    def key(message_id: str) -> str:
        """Return the Redis key of a message record."""
        return sms_key("msg", message_id)

    def existing(self, idempotency_key: str) -> str | None:
        """Return the id of the message already created under `idempotency_key`."""
        raw = self._redis.get(self._idem_key(idempotency_key))
        return None if raw is None else text(raw)

    @staticmethod
    def _idem_key(idempotency_key: str) -> str:
        # Hashed: callers' keys may name a phone (broadcast:<id>:<phone>); key names must not.
        return MessageStore.idem_key_of(idem_digest(idempotency_key))

    @staticmethod
    def idem_key_of(digest: str) -> str:
        """Return the Redis key of an idempotency digest (the message log keeps digests)."""
        return sms_key("idem", digest[:32])

    def create(
        self,
        idempotency_key: str,
        fields: Mapping[str, str | int | float],
        *,
        message_id: str | None = None,
        digest: str | None = None,
    ) -> tuple[str, bool]:
        """Create a message unless the key exists; return (id, created).

        `message_id` is the id the message log already gave it; `digest` stands for the
        key when the log re-creates a message (it keeps only the digest).
        """
        message_id = message_id or uuid.uuid4().hex
        idem_key = self.idem_key_of(digest) if digest else self._idem_key(idempotency_key)
        now = time.time()
        record: dict[str, str | int | float] = {
            **fields,
            "id": message_id,
            "created_at": now,
            "updated_at": now,
        }
        flat = [item for pair in record.items() for item in (pair[0], str(pair[1]))]
        refusal = f"{fields.get('template', '')}|{fields.get('reason', '')}"
        created, found = self._create(
            keys=[
                idem_key,
                self.key(message_id),
                status_counts_key(),
                pending_key(),
                refused_counts_key(),
                refused_index_key(),
            ],
            args=[
                message_id,
                self._ttl,
                str(fields.get("status", "")),
                now,
                refusal,
                REFUSED_INDEX_SIZE,
                *flat,
            ],
        )
        return text(found), bool(created)

    def get(self, message_id: str) -> Message | None:
        """Return the message, or None when unknown or expired."""
        raw = self._redis.hgetall(self.key(message_id))
        return Message.from_hash(raw) if raw else None

    def get_many(self, message_ids: list[str]) -> list[Message | None]:
        """Return each message (None when unknown or expired), in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for message_id in message_ids:
            pipe.hgetall(self.key(message_id))
        return [Message.from_hash(raw) if raw else None for raw in pipe.execute()]

    def transition(
        self,
        message_id: str,
        expected: Iterable[Status],
        to: Status,
        due_at: float | None = None,
        **fields: str | int | float,
    ) -> Transition:
        """Move the message to `to` only from an `expected` status, writing `fields` with it.

        `due_at` (epoch seconds, default now) is when a `queued` or `sending` message counts
        as overdue for the sweeper: the retry time, or the end of the sending lease.
        """
        allowed = [status.value for status in expected]
        now = time.time()
        flat = [
            item
            for pair in {**fields, "updated_at": now}.items()
            for item in (pair[0], str(pair[1]))
        ]
        moved, found = self._transition(
            keys=[self.key(message_id), status_counts_key(), pending_key()],
            args=[
                message_id,
                to.value,
                len(allowed),
                *allowed,
                now if due_at is None else due_at,
                *flat,
            ],
        )
        status = text(found)
        return Transition(bool(moved), Status(status) if status else None)

    def accept(
        self,
        message_id: str,
        provider_id: str,
        provider_status: str,
        reports_key: str,
        cost: str = "",
    ) -> tuple[Transition, list[str]]:
        """Move `sending` to `sent`, link the provider's id, take the reports parked under it.

        One round trip (the deliver job's hot path); returns the move and the parked reports
        (`reports_key`, a list), which the caller applies.
        """
        moved, found, reports = self._accept(
            keys=[
                self.key(message_id),
                status_counts_key(),
                pending_key(),
                sms_key("provider", provider_id),
                reports_key,
            ],
            args=[message_id, provider_id, provider_status, time.time(), self._ttl, cost],
        )
        status = text(found)
        return (
            Transition(bool(moved), Status(status) if status else None),
            [text(raw) for raw in reports],
        )

    def overdue(self, now: float, limit: int = 500) -> list[str]:
        """Return ids of queued or sending messages overdue at `now`, oldest first."""
        raw = self._redis.zrangebyscore(pending_key(), "-inf", now, start=0, num=limit)
        return [text(item) for item in cast("list[bytes]", raw)]

    def postpone(self, message_ids: list[str], until: float) -> None:
        """Push overdue ids to `until` (a sweep is in flight); forget ids whose record expired."""
        pipe = self._redis.pipeline()
        for message_id in message_ids:
            pipe.exists(self.key(message_id))
        alive = pipe.execute()
        pipe = self._redis.pipeline()
        for message_id, exists in zip(message_ids, alive, strict=True):
            if exists:
                pipe.zadd(pending_key(), {message_id: until}, xx=True)
            else:
                pipe.zrem(pending_key(), message_id)
        pipe.execute()

    def scrub(self) -> int:
        """Forget number and text of every message that left the queue; return how many.

        Records written before the log kept them only while pending still hold both for
        their 30 days: `python -m gateway sms scrub-log` cleans them once, after an upgrade.
        """
        scrubbed = 0
        for raw_key in self._redis.scan_iter(match=sms_key("msg", "*"), count=1000):
            phone = self._redis.hget(raw_key, "phone")
            number = text(phone) if phone is not None else ""
            masked = [mask_phone(number), current_phone_ref(number)] if number else ["", ""]
            scrubbed += int(self._scrub(keys=[raw_key], args=masked))
        return scrubbed

    def refused(self, limit: int = 50) -> list[Message]:
        """Return the latest refused messages still in the log, newest first."""
        raw = self._redis.zrevrange(refused_index_key(), 0, max(limit, 1) * 2 - 1)
        ids = [text(item) for item in cast("list[bytes]", raw)]
        return [m for m in self.get_many(ids) if m is not None][:limit]

    def refused_counts(self) -> dict[tuple[str, str], int]:
        """Return how many messages were refused, by (template, reason)."""
        raw = self._redis.hgetall(refused_counts_key())
        counts = {}
        for name, value in raw.items():
            template, _, reason = text(name).partition("|")
            counts[template, reason] = int(value)
        return counts

    def status_counts(self) -> dict[str, int]:
        """Return how many messages ever reached each status (monotonic counters)."""
        raw = self._redis.hgetall(status_counts_key())
        return {text(k): int(v) for k, v in raw.items()}

    def link_provider_id(self, provider_id: str, message_id: str) -> None:
        """Remember which message a provider's id belongs to (delivery reports carry it)."""
        self._redis.set(sms_key("provider", provider_id), message_id, ex=self._ttl)

    def by_provider_id(self, provider_id: str) -> str | None:
        """Return our message id for a provider's message id."""
        raw = self._redis.get(sms_key("provider", provider_id))
        return None if raw is None else text(raw)
