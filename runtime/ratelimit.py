"""One token-bucket rate limiter in Redis, atomic in a Lua script, shared by every channel.

A bucket holds at most `count` tokens and refills `count` tokens every `seconds`, continuously;
each call takes one. It is kept as GCRA keeps it: one number per subject, the "theoretical
arrival time" (ms) at which the bucket would be full again, read with one GET and written with
one SET that also sets its expiry (that very moment, plus a second): a third of the Redis work
of a hash with its own PEXPIRE, on the path of every USSD hop. A refused call writes nothing.
The clock is the caller's (ms), so every web node must run NTP; a skew of a second only
shifts the refill by that second.

Fail policy belongs to each limit: a limit that protects money (OTP and SMS spend) fails
CLOSED when Redis is unreachable (refuses), a limit that protects comfort fails OPEN (allows).

`BUCKET_LUA` defines the Lua function `take_token`; scripts that already make a round trip per
request (the USSD session lock) prepend it instead of paying a second round trip.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Final

import redis

from runtime import keys

log = logging.getLogger(__name__)

# take_token(key, capacity, period_ms, cost, now_ms) -> {allowed 0|1, retry_after seconds}
BUCKET_LUA: Final = """
local function take_token(key, capacity, period_ms, cost, now_ms)
  period_ms = tonumber(period_ms); now_ms = tonumber(now_ms)
  local interval = period_ms / tonumber(capacity)
  -- pcall: a key of another type (an older layout) reads as a full bucket; SET replaces it.
  local tat = tonumber(redis.pcall('GET', key)) or now_ms
  if tat < now_ms then tat = now_ms end
  local new_tat = tat + tonumber(cost) * interval
  local allowed_at = new_tat - period_ms
  if allowed_at > now_ms then
    return {0, math.max(1, math.ceil((allowed_at - now_ms) / 1000))}
  end
  redis.call('SET', key, string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now_ms) + 1000)
  return {1, 0}
end
"""


@dataclass(frozen=True, slots=True)
class Take:
    """`take_token`'s decision made by the caller: refused (retry_after) or the value to SET."""

    allowed: bool
    retry_after: int  # seconds, when refused
    value: str  # the new "full again" time (ms), as BUCKET_LUA writes it
    px: int  # its expiry (ms)


def take_token(stored: bytes | None, capacity: int, period_ms: int, now_ms: int) -> Take:
    """Decide one token as BUCKET_LUA's `take_token` does, from the bucket's stored value.

    For a caller that reads the bucket and writes it back in a transaction of its own (the
    USSD session store: WATCH on the bucket makes the read and the write one step).
    """
    try:
        tat = float(stored) if stored is not None else now_ms
    except ValueError:
        tat = now_ms  # not a number (an older layout): a full bucket, the SET replaces it
    tat = max(tat, now_ms)
    new_tat = tat + period_ms / capacity
    allowed_at = new_tat - period_ms
    if allowed_at > now_ms:
        return Take(False, max(1, math.ceil((allowed_at - now_ms) / 1000)), "", 0)
    return Take(True, 0, f"{new_tat:.3f}", math.ceil(new_tat - now_ms) + 1000)


_TAKE: Final = BUCKET_LUA + "return take_token(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])\n"
_RATE: Final = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")


class RateError(ValueError):
    """A rate setting is not `count/seconds` (or `off`)."""


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` requests per `seconds`, with bursts up to `count`; count 0 means no limit."""

    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Read `30/60` (30 per minute); `off` or `0` turns the limit off."""
        if text.strip().lower() in {"off", "0", ""}:
            return cls(0, 1.0)
        match = _RATE.match(text)
        if match is None or float(match.group(2)) <= 0:
            raise RateError(f"{text!r} is not count/seconds, e.g. 30/60, or off")
        return cls(int(match.group(1)), float(match.group(2)))

    @property
    def enabled(self) -> bool:
        """Tell whether this rate limits anything."""
        return self.count > 0

    @property
    def period_ms(self) -> int:
        """Return the refill period in milliseconds."""
        return max(1, round(self.seconds * 1000))

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}" if self.enabled else "off"


@dataclass(frozen=True, slots=True)
class Decision:
    """One answer of a limiter: allowed or not, when to retry, and whether Redis failed."""

    allowed: bool
    retry_after: int = 0
    degraded: bool = False  # Redis was unreachable: the fail policy decided


ALLOW: Final = Decision(True)


class RateLimiter:
    """A named token bucket per subject (a phone, an IP, a key id)."""

    def __init__(self, client: redis.Redis, name: str, rate: Rate, *, fail_open: bool) -> None:
        self.name = name
        self.rate = rate
        self.fail_open = fail_open
        self._take = client.register_script(_TAKE)

    def key(self, subject: str) -> str:
        """Return the Redis key of `subject`'s bucket."""
        # Tagged by subject: a script may take a phone's token beside that phone's other keys.
        return keys.key("rl", self.name, keys.tag(subject))

    def take(self, subject: str, *, now: float | None = None) -> Decision:
        """Take one token from `subject`'s bucket; apply the fail policy when Redis is down."""
        if not self.rate.enabled:
            return ALLOW
        now_ms = round((time.time() if now is None else now) * 1000)
        try:
            allowed, retry = self._take(
                keys=[self.key(subject)], args=[self.rate.count, self.rate.period_ms, 1, now_ms]
            )
        except redis.RedisError as error:
            log.warning(
                "rate limit %s: Redis unavailable (%s), failing %s",
                self.name,
                type(error).__name__,
                "open" if self.fail_open else "closed",
            )
            return Decision(self.fail_open, 0 if self.fail_open else 60, degraded=True)
        return Decision(bool(allowed), int(retry))
