"""The development provider: prints each SMS and keeps it in a Redis outbox."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TextIO

import redis

from runtime import keys
from runtime.masking import mask_phone, mask_secret
from sms.providers.base import ProviderResult, RecipientResult

OUTBOX_SIZE: Final = 1000


def outbox_key() -> str:
    """Return the list of the latest console messages (newest first)."""
    return keys.key("sms", "outbox")


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One SMS the console provider "sent"."""

    message_id: str
    to: str
    text: str
    sender_id: str
    at: float


class ConsoleProvider:
    """Accept every message: print it (number masked) and record it in the outbox."""

    name = "console"

    def __init__(
        self, client: redis.Redis, *, stream: TextIO | None = None, echo_text: bool = True
    ) -> None:
        self._redis = client
        self._stream = stream
        # Texts carry OTPs: a production process that runs this provider never prints them.
        self._echo_text = echo_text

    def send(self, to: Sequence[str], text: str, sender_id: str | None) -> ProviderResult:
        """Record and print `text` for every number; all are accepted (statusCode 101)."""
        results = []
        for number in to:
            # A production process keeps no text (OTPs) in the outbox, only that one was sent.
            kept = text if self._echo_text else mask_secret(text)
            entry = OutboxEntry(
                f"console-{uuid.uuid4().hex}", number, kept, sender_id or "", time.time()
            )
            pipe = self._redis.pipeline()
            pipe.lpush(outbox_key(), json.dumps(as_dict(entry)))
            pipe.ltrim(outbox_key(), 0, OUTBOX_SIZE - 1)
            pipe.execute()
            stream = self._stream or sys.stdout
            shown = text if self._echo_text else mask_secret(text)
            # One write per line: deliveries run on several threads (sms.delivery).
            stream.write(f"[sms] to {mask_phone(number)}: {shown}\n")
            stream.flush()
            results.append(RecipientResult(number, 101, "Success", entry.message_id))
        return ProviderResult(tuple(results))


def as_dict(entry: OutboxEntry) -> dict[str, object]:
    """Return an outbox entry as JSON-ready data."""
    return {
        "message_id": entry.message_id,
        "to": entry.to,
        "text": entry.text,
        "sender_id": entry.sender_id,
        "at": entry.at,
    }


def read_outbox(
    client: redis.Redis, *, phone: str | None = None, limit: int = 50
) -> list[OutboxEntry]:
    """Return what the console provider sent, newest first, optionally for one phone."""
    entries = []
    for raw in client.lrange(outbox_key(), 0, OUTBOX_SIZE - 1):
        data = json.loads(raw)
        if phone is not None and data["to"] != phone:
            continue
        entries.append(OutboxEntry(**data))
        if len(entries) >= limit:
            break
    return entries
