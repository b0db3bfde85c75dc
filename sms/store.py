"""Message records in Redis: created once per idempotency key, moved by atomic transitions.

Production Redis must persist (appendonly yes, AOF): a message record is the only proof of
what was queued, sent or refused, and idempotency keys are what prevent a second send.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import redis

MESSAGE_TTL_SECONDS: Final = 30 * 24 * 3600

# Create the record and claim the idempotency key in one step: two concurrent sends with
# the same key can never both create a message.
_CREATE: Final = """
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[2], ARGV[2])
return {1, ARGV[1]}
"""
# Compare-and-set on the status: the move happens only from one of the expected states.
_TRANSITION: Final = """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {0, ''} end
local count = tonumber(ARGV[2])
for i = 3, 2 + count do
  if current == ARGV[i] then
    redis.call('HSET', KEYS[1], 'status', ARGV[1], unpack(ARGV, 3 + count))
    return {1, current}
  end
end
return {0, current}
"""


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
    """One logical SMS and what happened to it."""

    id: str
    phone: str
    template: str
    lang: str
    text: str
    status: Status
    essential: bool
    created_at: float
    updated_at: float
    attempts: int = 0
    segments: int = 0
    encoding: str = ""
    reason: str = ""  # why it was refused or failed
    provider_id: str = ""
    provider_status: str = ""
    sending_since: float = 0.0

    @classmethod
    def from_hash(cls, raw: Mapping[bytes | str, bytes | str]) -> Message:
        """Build a message from its Redis hash."""
        fields = {text(k): text(v) for k, v in raw.items()}
        return cls(
            id=fields["id"],
            phone=fields["phone"],
            template=fields["template"],
            lang=fields["lang"],
            text=fields["text"],
            status=Status(fields["status"]),
            essential=fields.get("essential") == "1",
            created_at=float(fields["created_at"]),
            updated_at=float(fields.get("updated_at", fields["created_at"])),
            attempts=int(fields.get("attempts", "0")),
            segments=int(fields.get("segments", "0")),
            encoding=fields.get("encoding", ""),
            reason=fields.get("reason", ""),
            provider_id=fields.get("provider_id", ""),
            provider_status=fields.get("provider_status", ""),
            sending_since=float(fields.get("sending_since", "0") or 0),
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

    @staticmethod
    def key(message_id: str) -> str:
        """Return the Redis key of a message record."""
        return f"sms:msg:{message_id}"

    def existing(self, idempotency_key: str) -> str | None:
        """Return the id of the message already created under `idempotency_key`."""
        raw = self._redis.get(f"sms:idem:{idempotency_key}")
        return None if raw is None else text(raw)

    def create(
        self, idempotency_key: str, fields: Mapping[str, str | int | float]
    ) -> tuple[str, bool]:
        """Create a message unless the key exists; return (id, created)."""
        message_id = uuid.uuid4().hex
        now = time.time()
        record: dict[str, str | int | float] = {
            **fields,
            "id": message_id,
            "created_at": now,
            "updated_at": now,
        }
        flat = [item for pair in record.items() for item in (pair[0], str(pair[1]))]
        created, found = self._create(
            keys=[f"sms:idem:{idempotency_key}", self.key(message_id)],
            args=[message_id, self._ttl, *flat],
        )
        return text(found), bool(created)

    def get(self, message_id: str) -> Message | None:
        """Return the message, or None when unknown or expired."""
        raw = self._redis.hgetall(self.key(message_id))
        return Message.from_hash(raw) if raw else None

    def transition(
        self,
        message_id: str,
        expected: Iterable[Status],
        to: Status,
        **fields: str | int | float,
    ) -> Transition:
        """Move the message to `to` only from an `expected` status, writing `fields` with it."""
        allowed = [status.value for status in expected]
        flat = [
            item
            for pair in {**fields, "updated_at": time.time()}.items()
            for item in (pair[0], str(pair[1]))
        ]
        moved, found = self._transition(
            keys=[self.key(message_id)], args=[to.value, len(allowed), *allowed, *flat]
        )
        status = text(found)
        return Transition(bool(moved), Status(status) if status else None)

    def link_provider_id(self, provider_id: str, message_id: str) -> None:
        """Remember which message a provider's id belongs to (delivery reports carry it)."""
        self._redis.set(f"sms:provider:{provider_id}", message_id, ex=self._ttl)

    def by_provider_id(self, provider_id: str) -> str | None:
        """Return our message id for a provider's message id."""
        raw = self._redis.get(f"sms:provider:{provider_id}")
        return None if raw is None else text(raw)
