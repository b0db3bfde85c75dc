"""One-time codes by SMS: 6 digits, 5 minutes, single use, 5 tries, throttled resends.

Only a keyed HMAC of the code is stored. Verification answers a bare yes/no: a wrong, expired,
locked-out or never-issued code all look the same to the caller. Codes are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import redis

from runtime import keys
from runtime.masking import phone_ref
from runtime.ratelimit import Rate, RateLimiter
from sms.service import SmsService
from sms.store import text

log = logging.getLogger(__name__)

CODE_DIGITS: Final = 6
VALID_SECONDS: Final = 300
MAX_TRIES: Final = 5
# Seconds to wait before the 2nd, 3rd, ... code for the same phone and purpose.
RESEND_DELAYS: Final = (30, 60, 120, 300, 600)
RESEND_WINDOW_SECONDS: Final = 3600
PURPOSE: Final = re.compile(r"^[a-z0-9_.-]{1,32}$")

# Count the try and hand back the stored MAC in one step; past MAX_TRIES nothing comes back.
_TRY: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
if tries > tonumber(ARGV[1]) then return false end
return redis.call('HGET', KEYS[1], 'mac')
"""
# Consume: only the caller whose MAC is still the stored one deletes it (single use).
_CONSUME: Final = """
if redis.call('HGET', KEYS[1], 'mac') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Throttle resends: allowed when the previous code's wait is over; the next wait grows.
_RESEND: Final = """
local now = tonumber(ARGV[1])
local next_at = tonumber(redis.call('HGET', KEYS[1], 'next') or '0')
if now < next_at then return {0, math.ceil(next_at - now)} end
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
local delays = cjson.decode(ARGV[2])
local wait = delays[math.min(count, #delays)]
redis.call('HSET', KEYS[1], 'next', now + wait)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, wait}
"""


class OtpError(ValueError):
    """The request itself is malformed (unknown purpose shape)."""


@dataclass(frozen=True, slots=True)
class OtpIssue:
    """What asking for a code did: sent or throttled, and when the next one may be asked."""

    sent: bool
    retry_after: int
    refused: str = ""  # the SMS layer refused the number (not mobile, country not allowed)


def resolve_key(configured: str, client: redis.Redis) -> bytes:
    """Return OTP_KEY, or (development) a random key shared by every process through Redis."""
    if configured:
        return configured.encode()
    log.warning("OTP_KEY is not set: using a generated development key kept in Redis")
    dev_key = keys.key("otp", "dev-key")
    client.set(dev_key, secrets.token_hex(32), nx=True)
    raw = client.get(dev_key)
    return text(raw).encode() if raw is not None else secrets.token_bytes(32)


class OtpService:
    """Issue and verify one-time codes; delivery goes through SmsService (an essential template)."""

    def __init__(
        self,
        *,
        client: redis.Redis,
        sms: SmsService,
        key: bytes,
        resend_delays: Sequence[int] = RESEND_DELAYS,
        phone_rate: Rate | None = None,
    ) -> None:
        self._redis = client
        # Codes across every purpose, per phone: SMS spend, so the limit fails closed.
        self._per_phone = RateLimiter(
            client, "otp-phone", phone_rate or Rate(0, 1), fail_open=False
        )
        self._sms = sms
        self._key = key
        self._resend_delays = list(resend_delays)
        self._try = client.register_script(_TRY)
        self._consume = client.register_script(_CONSUME)
        self._resend = client.register_script(_RESEND)

    def issue(self, phone: str, purpose: str, *, template: str = "otp") -> OtpIssue:
        """Send a fresh code unless the resend wait is running; a new code voids the old.

        `template`: an essential template with `code` and `minutes` (the assisted counter's
        `otp_counter` tells the citizen to read it to the agent, `otp` to tell nobody).
        """
        slot = self._slot(phone, purpose)
        decision = self._per_phone.take(phone_ref(phone, self._key))
        if decision.degraded:
            raise redis.ConnectionError("the OTP rate cannot be checked")
        if not decision.allowed:
            return OtpIssue(False, decision.retry_after)
        allowed, wait = self._resend(
            keys=[keys.key("otp", "resend", slot)],
            args=[time.time(), _json(self._resend_delays), RESEND_WINDOW_SECONDS],
        )
        if not allowed:
            return OtpIssue(False, int(wait))
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        key = keys.key("otp", "code", slot)
        pipe = self._redis.pipeline()
        pipe.delete(key)
        pipe.hset(key, mapping={"mac": self._mac(phone, purpose, code), "tries": 0})
        pipe.expire(key, VALID_SECONDS)
        pipe.execute()
        result = self._sms.send(
            phone,
            template,
            {"code": code, "minutes": VALID_SECONDS // 60},
            idempotency_key=f"otp:{uuid.uuid4().hex}",
        )
        if not result.accepted:
            self._redis.delete(key)
            return OtpIssue(False, 0, result.reason)
        return OtpIssue(True, int(wait))

    def verify(self, phone: str, purpose: str, code: str) -> bool:
        """Return True once for the right code within its validity and its 5 tries."""
        slot = self._slot(phone, purpose)
        key = keys.key("otp", "code", slot)
        candidate = self._mac(phone, purpose, code.strip())
        stored = self._try(keys=[key], args=[MAX_TRIES])
        # Compare even when nothing is stored, so every "no" takes the same path.
        expected = text(stored) if stored else self._mac(phone, purpose, "unknown")
        if not hmac.compare_digest(candidate, expected) or not stored:
            return False
        return bool(self._consume(keys=[key], args=[expected]))

    def _slot(self, phone: str, purpose: str) -> str:
        if not PURPOSE.match(purpose):
            raise OtpError("purpose: 1-32 characters among a-z 0-9 _ . -")
        # Keyed ids keep phone numbers out of Redis key names.
        return f"{purpose}:{phone_ref(phone, self._key)}"

    def _mac(self, phone: str, purpose: str, code: str) -> str:
        message = f"{purpose}\x1f{phone}\x1f{code}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def _json(values: Sequence[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"
