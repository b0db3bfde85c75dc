"""Per-phone state: STOP and language (SQL, cached in Redis), the daily budget and replies.

STOP and the language are written to SQL first (sms.preference_store) and cached in Redis
(`<prefix>:sms:pref:<ref>`, a day): a cache miss reads SQL again, so a Redis that came back empty
never forgets a STOP. The language is also kept under the USSD session store's key.

Both limits are token buckets of runtime.ratelimit (keys `<prefix>:rl:sms-budget:{<phone>}` and
`<prefix>:rl:sms-replies:{<phone>}`): N a day, N an hour, refilled continuously.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import redis

from runtime import keys
from runtime.ratelimit import Decision, Rate, RateLimiter
from sms.derived_keys import preference_ref
from sms.preference_store import PreferenceStore, Stored
from sms.store import text

CACHE_TTL_SECONDS: Final = 24 * 3600
# The phone's language: the USSD session store's key (runtime.keys.phone_language), so a
# language chosen in the USSD menu or by `LANGUE sw` applies to both channels.
LANGUAGE_TTL_SECONDS: Final = 365 * 24 * 3600  # as the session store keeps it
DAY_SECONDS: Final = 24 * 3600


def opted_out_key() -> str:
    """Return the set of phones that sent STOP."""
    return keys.key("sms", "optout")


class Preferences:
    """What a phone asked for (STOP, language) and what it has used (budget, replies)."""

    def __init__(
        self,
        client: redis.Redis,
        store: PreferenceStore | None = None,
        ref: Callable[[str], str] | None = None,
    ) -> None:
        self._redis = client
        self._store = store
        # The key of a phone in sms_preferences and its Redis cache (sms.derived_keys).
        self._ref = ref or preference_ref("")
        self._limiters: dict[tuple[str, Rate], RateLimiter] = {}

    def opted_out(self, phone: str) -> bool:
        """Return True when the phone sent STOP (non-essential notices are not sent)."""
        if self._store is None:
            return bool(self._redis.sismember(opted_out_key(), phone))
        return self._stored(phone).opted_out

    def set_opted_out(self, phone: str, opted_out: bool) -> None:
        """Record STOP (True) or START (False): in SQL first, then the cache."""
        if self._store is None:
            if opted_out:
                self._redis.sadd(opted_out_key(), phone)
            else:
                self._redis.srem(opted_out_key(), phone)
            return
        self._store.set_opted_out(self._ref(phone), opted_out)
        self._cache(phone)  # overwrite, not delete: a reader's older value cannot stay

    def language(self, phone: str) -> str | None:
        """Return the phone's chosen language, if any."""
        raw = self._redis.get(keys.phone_language(phone))
        if raw is not None or self._store is None:
            # keys.NO_LANGUAGE: a USSD dial asked SQL, which knows none.
            return None if raw is None or text(raw) == keys.NO_LANGUAGE else text(raw)
        return self._stored(phone).lang

    def set_language(self, phone: str, lang: str) -> None:
        """Remember the phone's language for both channels (SQL, then Redis)."""
        self.store_language(phone, lang)
        self._redis.set(keys.phone_language(phone), lang, ex=LANGUAGE_TTL_SECONDS)

    def store_language(self, phone: str, lang: str) -> None:
        """Record the language in SQL and its cache, not under the session store's key.

        The USSD hop that changes the language writes that key with the session (one round
        trip); this is the durable half it adds on that hop only.
        """
        if self._store is not None:
            self._store.set_language(self._ref(phone), lang)
            self._cache(phone)

    def stored_language(self, phone: str) -> str | None:
        """Return the language SQL holds, without the session store's key.

        A USSD dial that found nothing under that key (a phone new to Redis) asks here, once:
        the hop keeps the answer under that key, "none" included (keys.NO_LANGUAGE). So it
        reads SQL straight, not through the cache hash: that cache would be read once and
        written once per new phone for nothing (two Redis round trips on a first dial).
        """
        return None if self._store is None else self._store.get(self._ref(phone)).lang

    def _cache_key(self, phone: str) -> str:
        return keys.key("sms", "pref", self._ref(phone))  # hash: stop (0/1), lang ("" = none)

    def _stored(self, phone: str) -> Stored:
        assert self._store is not None
        key = self._cache_key(phone)
        cached = self._redis.hgetall(key)
        if cached:
            fields = {text(k): text(v) for k, v in cached.items()}
            return Stored(fields.get("stop") == "1", fields.get("lang") or None)
        return self._cache(phone)

    def _cache(self, phone: str) -> Stored:
        assert self._store is not None
        key = self._cache_key(phone)
        stored = self._store.get(self._ref(phone))
        pipe = self._redis.pipeline()
        pipe.hset(key, mapping={"stop": int(stored.opted_out), "lang": stored.lang or ""})
        pipe.expire(key, CACHE_TTL_SECONDS)
        pipe.execute()
        return stored

    def spend(self, phone: str, budget: int) -> bool:
        """Take one message from the phone's daily budget; return False when it is exhausted.

        Fails closed: without Redis nothing is sent (the error reaches the caller, whose job
        is retried), because this limit protects money.
        """
        if budget <= 0:
            return False
        decision = self._limiter("sms-budget", Rate(budget, DAY_SECONDS)).take(phone)
        if decision.degraded:
            raise redis.ConnectionError("the SMS budget cannot be checked")
        return decision.allowed

    def reply_slot(self, phone: str, per_hour: int) -> int:
        """Take one reply from the phone's hourly rate: 0 allowed, 1 first refusal, 2 after."""
        decision = Decision(False, 3600)
        if per_hour > 0:
            decision = self._limiter("sms-replies", Rate(per_hour, 3600)).take(phone)
            if decision.degraded:
                raise redis.ConnectionError("the reply rate cannot be checked")
            if decision.allowed:
                return 0
        # One "too many messages" notice per refusal spell, then silence until tokens return.
        first = self._redis.set(
            keys.key("sms", "replies", "notified", phone),
            "1",
            nx=True,
            ex=max(1, decision.retry_after),
        )
        return 1 if first else 2

    def _limiter(self, name: str, rate: Rate) -> RateLimiter:
        # Budgets are per call (settings), but one limiter per (name, rate) is enough.
        key = (name, rate)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = RateLimiter(self._redis, name, rate, fail_open=False)
        return limiter
