"""Per-phone state in Redis: STOP, language, the daily budget and the reply rate limit."""

from __future__ import annotations

import time
from typing import Final

import redis

from sms.store import text

OPTED_OUT_KEY: Final = "sms:optout"
# The phone's language: the USSD session store's key (sessions/store.py, prefix `ussd`), so a
# language chosen in the USSD menu or by `LANGUE sw` applies to both channels.
LANGUAGE_KEY: Final = "ussd:lang:{phone}"
LANGUAGE_TTL_SECONDS: Final = 365 * 24 * 3600  # as the session store keeps it


class Preferences:
    """What a phone asked for (STOP, language) and what it has used (budget, replies)."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def opted_out(self, phone: str) -> bool:
        """Return True when the phone sent STOP (non-essential notices are not sent)."""
        return bool(self._redis.sismember(OPTED_OUT_KEY, phone))

    def set_opted_out(self, phone: str, opted_out: bool) -> None:
        """Record STOP (True) or START (False)."""
        if opted_out:
            self._redis.sadd(OPTED_OUT_KEY, phone)
        else:
            self._redis.srem(OPTED_OUT_KEY, phone)

    def language(self, phone: str) -> str | None:
        """Return the phone's chosen language, if any."""
        raw = self._redis.get(LANGUAGE_KEY.format(phone=phone))
        return None if raw is None else text(raw)

    def set_language(self, phone: str, lang: str) -> None:
        """Remember the phone's language for both channels."""
        self._redis.set(LANGUAGE_KEY.format(phone=phone), lang, ex=LANGUAGE_TTL_SECONDS)

    def spend(self, phone: str, budget: int) -> bool:
        """Count one message against today's budget; return False when it is exhausted."""
        key = f"sms:budget:{phone}:{time.strftime('%Y%m%d', time.gmtime())}"
        pipe = self._redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, 2 * 24 * 3600)
        used = int(pipe.execute()[0])
        return used <= budget

    def reply_slot(self, phone: str, per_hour: int) -> int:
        """Count one reply this hour; return 0 if allowed, 1 on the first refusal, 2 after."""
        key = f"sms:replies:{phone}:{int(time.time() // 3600)}"
        pipe = self._redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, 3600)
        used = int(pipe.execute()[0])
        if used <= per_hour:
            return 0
        return 1 if used == per_hour + 1 else 2
