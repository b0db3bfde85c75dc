"""Inbound SMS and delivery-report callbacks: validate, dedupe, store, enqueue.

Africa's Talking retries a callback it did not see acknowledged, so the same payload may
arrive many times: only the first is stored and queued (Redis SET NX with a TTL). Inbound
messages are deduped on `id`; delivery reports on (`id`, `status`, `retryCount`), because
every report about one message carries that message's id. Other providers' callbacks are
read into the same fields first (each provider module's `*_payload`), stored with their
provider's name and deduplicated under it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

import phonenumbers
import redis

from runtime import keys
from runtime.jobs import JobFunc
from runtime.ratelimit import BUCKET_LUA, Rate, RateLimiter
from sms.providers import africastalking
from sms.queues import DeliveryQueue

Kind = Literal["inbound", "delivery"]
AT: Final = africastalking.NAME  # callbacks stored before other providers existed are AT's
DEDUPE_SECONDS: Final = 7 * 24 * 3600
_ID: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_MAX_TEXT: Final = 1600  # ten concatenated segments; longer is not an SMS
INBOUND_FIELDS: Final = ("from", "to", "text", "date", "id", "linkId", "networkCode")
DELIVERY_FIELDS: Final = (
    "id",
    "status",
    "phoneNumber",
    "networkCode",
    "failureReason",
    "retryCount",
)


# KEYS: seen marker, phone bucket. ARGV: dedupe s, capacity, period ms, now ms.
# Returns 0 (seen before), 1 (new, admitted) or 2 (new, over the phone's rate).
_ADMIT: Final = (
    BUCKET_LUA
    + """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) == false then return 0 end
local bucket = take_token(KEYS[2], ARGV[2], ARGV[3], 1, ARGV[4])
if bucket[1] == 0 then return 2 end
return 1
"""
)


class CallbackError(ValueError):
    """A callback payload is missing a field or holds a malformed one."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the callback handler did: the payload's id and whether it was new."""

    callback_id: str
    new: bool
    limited: bool = False  # a new inbound SMS over its phone's rate: dropped, not queued


class CallbackInbox:
    """Store each callback once and enqueue the job that handles it."""

    def __init__(
        self,
        client: redis.Redis,
        queue: DeliveryQueue,
        default_region: str,
        *,
        jobs: Mapping[Kind, JobFunc],
        inbound_rate: Rate | None = None,
    ) -> None:
        self._redis = client
        self._queue = queue
        self._jobs = jobs  # the job per kind, from sms.wiring (sms.jobs imports this module)
        self._region = default_region
        # Inbound SMS cost us replies: the limit fails closed (see accept).
        self._inbound_rate = inbound_rate or Rate(0, 1)
        self._inbound = RateLimiter(client, "sms-inbound", self._inbound_rate, fail_open=False)
        self._admit = client.register_script(_ADMIT)

    def accept(self, kind: Kind, form: Mapping[str, str], provider: str = AT) -> Accepted:
        """Validate `form`; store and enqueue it unless its id was seen before."""
        payload = self._validate(kind, form)
        callback_id = payload["id"]
        if kind == "delivery":
            # Every report about one message carries that message's id (Buffered, then
            # Success...): a retried callback repeats status and retryCount too.
            callback_id = f"{callback_id}:{payload['status']}:{payload['retryCount'] or '0'}"
        if provider != AT:
            callback_id = f"{provider}:{callback_id}"
            payload["provider"] = provider
        seen_key = keys.key("sms", "cb", kind, callback_id)
        if kind == "inbound":
            # Tagged by the sender: the admit script takes the sender's token beside it (Cluster).
            seen_key = keys.key("sms", "cb", kind, keys.tag(payload["from"]), callback_id)
        if kind == "inbound" and self._inbound_rate.enabled:
            # One atomic step: an AT retry is a duplicate and takes no token; a new message
            # over its phone's rate is marked seen, answered 200 and never stored or answered.
            # A Redis error reaches the handler (503, AT retries): the limit fails closed.
            rate = self._inbound_rate
            verdict = self._admit(
                keys=[seen_key, self._inbound.key(payload["from"])],
                args=[DEDUPE_SECONDS, rate.count, rate.period_ms, round(time.time() * 1000)],
            )
            if verdict == 0:
                return Accepted(callback_id, new=False)
            if verdict == 2:
                return Accepted(callback_id, new=False, limited=True)
        elif not self._redis.set(seen_key, "1", nx=True, ex=DEDUPE_SECONDS):
            return Accepted(callback_id, new=False)
        # The payload is written before the job exists: a worker never finds it missing.
        self._redis.set(
            keys.key("sms", "cbdata", kind, callback_id), json.dumps(payload), ex=DEDUPE_SECONDS
        )
        self._queue.enqueue(self._jobs[kind], callback_id)
        return Accepted(callback_id, new=True)

    def load(self, kind: Kind, callback_id: str) -> dict[str, str] | None:
        """Return a stored payload."""
        raw = self._redis.get(keys.key("sms", "cbdata", kind, callback_id))
        if raw is None:
            return None
        data: dict[str, str] = json.loads(raw)
        return data

    def _validate(self, kind: Kind, form: Mapping[str, str]) -> dict[str, str]:
        fields = INBOUND_FIELDS if kind == "inbound" else DELIVERY_FIELDS
        payload = {name: str(form.get(name, "")).strip() for name in fields}
        if not _ID.match(payload["id"]):
            raise CallbackError("id: missing or malformed")
        if kind == "inbound":
            payload["from"] = self._e164(payload["from"], "from")
            if len(payload["text"]) > _MAX_TEXT:
                raise CallbackError("text: too long")
        else:
            if not payload["status"] or len(payload["status"]) > 40:
                raise CallbackError("status: missing or malformed")
            if payload["phoneNumber"]:
                payload["phoneNumber"] = self._e164(payload["phoneNumber"], "phoneNumber")
        for name, value in payload.items():
            if len(value) > _MAX_TEXT:
                raise CallbackError(f"{name}: too long")
        return payload

    def _e164(self, raw: str, name: str) -> str:
        try:
            number = phonenumbers.parse(raw, self._region)
        except phonenumbers.NumberParseException:
            raise CallbackError(f"{name}: not a phone number") from None
        if not phonenumbers.is_valid_number(number):
            raise CallbackError(f"{name}: not a valid phone number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
