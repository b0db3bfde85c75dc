"""Read the console SMS provider's outbox for one phone, shaped for the simulator panel."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import redis

import runtime
from sms.providers.console import read_outbox
from text.encoding import cost

OUTBOX_LIMIT: Final = 20


def messages_for(services: runtime.Container, msisdn: str) -> list[dict[str, Any]]:
    """Return the SMS sent to `msisdn` (E.164), newest first, as JSON-ready dicts."""
    entries = read_outbox(services.get(redis.Redis), phone=msisdn, limit=OUTBOX_LIMIT)
    messages = []
    for entry in entries:
        measured = cost(entry.text)
        messages.append(
            {
                "id": entry.message_id,
                "sent_at": dt.datetime.fromtimestamp(entry.at, tz=dt.UTC).strftime("%H:%M:%S UTC"),
                "sender_id": entry.sender_id,
                "text": entry.text,
                "encoding": measured.encoding,
                "segments": measured.sms_segments,
            }
        )
    return messages
