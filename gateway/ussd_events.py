"""Africa's Talking USSD end-of-session notifications, kept for drop-off analytics.

`POST /ussd/africastalking/events`, form-encoded::

    sessionId=ATUid_...&serviceCode=*384*12#&networkCode=63902&phoneNumber=+243810000001
    &status=Incomplete&cost=KES 0.0500&durationInMillis=41000&hopsCount=4&input=1*2
    &lastAppResponse=CON ...&errorMessage=&date=2025-01-31 10:00:00

Thin, like the other callbacks: validate, store once per session id, answer 200 (a payload we
cannot use is answered 200 too, or AT retries it for hours); only a Redis outage answers 503
so that AT retries. Stored in a Redis stream (`ussd:events`, capped at USSD_EVENTS_MAX entries
with approximate trimming: analytics, not records). The path of screens the session reached
comes from the session itself (`ussd:s:<id>`, still in Redis for the session TTL after the
last hop): the hop path pays nothing for it. The phone is stored masked and as its keyed
hash; `input` and `lastAppResponse` are not stored (they carry what a citizen typed and saw).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final, cast

import orjson
import phonenumbers
import redis
from flask import Blueprint, Response, current_app, jsonify, request

from gateway.callback_auth import callback_route
from gateway.services import services_of
from runtime import keys
from runtime.logs import current_phone_ref, outage
from runtime.masking import mask_phone
from sessions.session import Session
from sessions.store import session_key

log = logging.getLogger(__name__)

blueprint = Blueprint("ussd_events", __name__)

DEDUPE_SECONDS: Final = 3 * 24 * 3600  # AT retries unacknowledged callbacks for hours
STATUSES: Final = frozenset({"Success", "Incomplete", "Failed"})
_SESSION_ID: Final = re.compile(r"^[\w\-.:]{1,128}$")

# KEYS: seen, stream. ARGV: dedupe seconds, maxlen, field, value, ...
_RECORD: Final = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
return 1
"""


def stream_key() -> str:
    """Return the stream of end-of-session events (one Cluster slot with its seen markers)."""
    return keys.key("ussd", keys.tag("events"))


def _seen_key(session_id: str) -> str:
    # The stream's tag: the record script touches both.
    return keys.key("ussd", keys.tag("events"), "seen", session_id)


class EventError(ValueError):
    """The notification is not usable (answered 200 and logged, never retried)."""


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """One stored end-of-session notification."""

    session_id: str
    status: str
    path: tuple[str, ...]  # screens from the start screen to the last one shown
    hops: int
    duration_ms: int
    network_code: str
    phone_ref: str
    stored_ms: int = 0  # the stream entry's time


class SessionEvents:
    """Validate, dedupe and store notifications; read them back for reports."""

    def __init__(self, client: redis.Redis, *, region: str, maxlen: int = 200_000) -> None:
        self._redis = client
        self._region = region
        self._maxlen = maxlen
        self._record = client.register_script(_RECORD)

    def record(self, form: Mapping[str, str]) -> bool:
        """Store one notification unless its session was stored already; True when new."""
        session_id = form.get("sessionId", "")
        if not _SESSION_ID.match(session_id):
            raise EventError("sessionId missing or malformed")
        status = form.get("status", "")
        if status not in STATUSES:
            raise EventError("status must be Success, Incomplete or Failed")
        phone = _e164(form.get("phoneNumber", ""), self._region)
        fields = {
            "session": session_id,
            "status": status,
            "path": orjson.dumps(self._path(session_id)).decode(),
            "hops": str(_count(form.get("hopsCount", "0"), "hopsCount")),
            "duration_ms": str(_count(form.get("durationInMillis", "0"), "durationInMillis")),
            "network": form.get("networkCode", "")[:16],
            "service": form.get("serviceCode", "")[:32],
            "cost": form.get("cost", "")[:32],
            "date": form.get("date", "")[:32],
            "error": form.get("errorMessage", "")[:200],
            "phone": mask_phone(phone) if phone else "",
            "phone_ref": current_phone_ref(phone) if phone else "",
        }
        flat = [item for pair in fields.items() for item in pair]
        new = self._record(
            keys=[_seen_key(session_id), stream_key()],
            args=[DEDUPE_SECONDS, self._maxlen, *flat],
        )
        return bool(new)

    def _path(self, session_id: str) -> list[str]:
        blob = cast("bytes | None", self._redis.get(session_key(session_id)))
        if not blob:
            return []  # expired or never saved: the report counts it as "unknown"
        try:
            session = Session.decode(blob)
        except Exception:  # a session written by another version: skip the path, keep the event
            return []
        return [*session.history, session.state]

    def read(self, since_ms: int = 0, batch: int = 1000) -> Iterator[SessionEvent]:
        """Yield stored events from `since_ms` (epoch milliseconds) on, oldest first."""
        start = f"{since_ms}-0"
        while True:
            entries = cast(
                "list[tuple[bytes, dict[bytes, bytes]]]",
                self._redis.xrange(stream_key(), min=start, max="+", count=batch),
            )
            for entry_id, raw in entries:
                yield _event(entry_id, raw)
            if len(entries) < batch:
                return
            last = entries[-1][0].decode()
            start = "(" + last


def _event(entry_id: bytes, raw: Mapping[bytes, bytes]) -> SessionEvent:
    fields = {k.decode(): v.decode() for k, v in raw.items()}
    return SessionEvent(
        session_id=fields.get("session", ""),
        status=fields.get("status", ""),
        path=tuple(orjson.loads(fields.get("path") or "[]")),
        hops=int(fields.get("hops", "0")),
        duration_ms=int(fields.get("duration_ms", "0")),
        network_code=fields.get("network", ""),
        phone_ref=fields.get("phone_ref", ""),
        stored_ms=int(entry_id.decode().partition("-")[0]),
    )


def _count(raw: str, name: str) -> int:
    # AT sends whole numbers, but some senders write them as floats (`1234.0`): round those.
    text = raw.strip() or "0"
    try:
        value = int(text) if text.isdigit() else round(float(text))
    except (ValueError, OverflowError):  # not a number, or nan/inf
        raise EventError(f"{name} is not a number") from None
    if not 0 <= value < 10**9:
        raise EventError(f"{name} out of range")
    return value


def _e164(raw: str, region: str) -> str:
    if not raw.strip():
        return ""
    try:
        number = phonenumbers.parse(raw[:32], region)
    except phonenumbers.NumberParseException:
        raise EventError("phoneNumber is not a phone number") from None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@callback_route(blueprint, "/ussd/africastalking/events", "ussd")
def events() -> tuple[Response, int]:
    """Accept one end-of-session notification."""
    store = services_of(current_app).get(SessionEvents)
    try:
        new = store.record(request.form)
    except EventError as error:
        log.warning("ussd event ignored: %s", error)
        return jsonify(status="ignored", reason=str(error)), 200
    except redis.RedisError:
        log.error("ussd event: Redis unavailable, asking AT to retry", extra=outage("redis"))
        return jsonify(error="unavailable", message="try again later"), 503
    return jsonify(status="accepted" if new else "duplicate"), 200
