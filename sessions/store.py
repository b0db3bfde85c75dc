"""Redis session store: one round trip to lock and load, one to save and unlock.

Keys: `ussd:s:<session>` (the session, TTL), `ussd:lock:<session>` (a token, PX),
`ussd:lang:<phone>` (preferred language, long TTL), `ussd:resume:<phone>` (snapshot of a
journey left mid-way, TTL = the resume window) and `ussd:rl:<phone>` (the hop rate bucket).
"""

from __future__ import annotations

import itertools
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson
import redis

from runtime.ratelimit import BUCKET_LUA, Rate
from sessions.lean_script import LeanScript
from sessions.session import Session

# KEYS: lock, session, lang, resume[, hop bucket]. ARGV: token, lock ms[, bucket capacity,
# bucket period ms, now ms]. The per-phone hop limit rides on this round trip (no extra one);
# a hop waiting for the lock takes no token, a refused hop leaves the lock free.
_ACQUIRE: Final = (
    BUCKET_LUA
    + """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if KEYS[5] then
    local bucket = take_token(KEYS[5], ARGV[3], ARGV[4], 1, ARGV[5])
    if bucket[1] == 0 then
      redis.call('DEL', KEYS[1])
      return {2, bucket[2], redis.call('GET', KEYS[3])}
    end
  end
  return {1, redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3]), redis.call('GET', KEYS[4])}
end
return {0}
"""
)
# KEYS: lock, session, lang, resume. ARGV: token, session, session ms, lang ('' = keep),
# lang ms, resume mode (keep|set|clear), resume snapshot, resume ms.
_SAVE: Final = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if ARGV[4] ~= '' then redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5]) end
if ARGV[6] == 'set' then
  redis.call('SET', KEYS[4], ARGV[7], 'PX', ARGV[8])
elseif ARGV[6] == 'clear' then
  redis.call('DEL', KEYS[4])
end
redis.call('DEL', KEYS[1])
return 1
"""
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

ResumeMode = Literal["keep", "set", "clear"]


class HopRateLimitedError(Exception):
    """The phone went over its hop rate; nothing was locked or loaded."""

    def __init__(self, retry_after: int, phone_lang: str | None) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after
        self.phone_lang = phone_lang


@dataclass(frozen=True, slots=True)
class Loaded:
    """A locked session: what Redis held for it and for its phone."""

    session_id: str
    msisdn: str
    token: str
    session: Session | None
    phone_lang: str | None
    resume: dict[str, Any] | None


class SessionStore:
    """Lock, load, save and unlock USSD sessions in Redis."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl_seconds: int,
        resume_window_seconds: int,
        lock_ms: int = 5_000,
        lock_wait_seconds: float = 2.0,
        language_ttl_seconds: int = 365 * 24 * 3600,
        prefix: str = "ussd",
        hop_rate: Rate | None = None,
    ) -> None:
        self._client = client
        self._ttl_ms = ttl_seconds * 1000
        self._resume_ms = resume_window_seconds * 1000
        self._lock_ms = lock_ms
        self._lock_wait = lock_wait_seconds
        self._lang_ms = language_ttl_seconds * 1000
        self._prefix = prefix
        self._hop_rate = hop_rate if hop_rate is not None and hop_rate.enabled else None
        # Two script calls per hop: LeanScript skips redis-py's per-command layers.
        self._acquire = LeanScript(client, _ACQUIRE)
        self._save = LeanScript(client, _SAVE)
        self._release = LeanScript(client, _RELEASE)
        self._token_pid = 0
        self._token_base = ""
        self._tokens = itertools.count()

    def _token(self) -> str:
        # A lock token must only be unique among holders (it is never a secret): a random
        # base per process and a counter, instead of an os.urandom call per hop.
        if self._token_pid != os.getpid():
            self._token_pid, self._token_base = os.getpid(), secrets.token_hex(6)
        return f"{self._token_base}{next(self._tokens):x}"

    def _keys(self, session_id: str, msisdn: str) -> list[str]:
        p = self._prefix
        return [
            f"{p}:lock:{session_id}",
            f"{p}:s:{session_id}",
            f"{p}:lang:{msisdn}",
            f"{p}:resume:{msisdn}",
        ]

    def acquire(self, session_id: str, msisdn: str) -> Loaded | None:
        """Lock the session and load it; wait briefly for a concurrent hop, else None.

        Raise HopRateLimitedError when the phone is over its hop rate.
        """
        keys = self._keys(session_id, msisdn)
        token = self._token()
        args: list[str | int] = [token, self._lock_ms]
        rate = self._hop_rate
        if rate is not None:
            keys.append(f"{self._prefix}:rl:{msisdn}")
            args += [rate.count, rate.period_ms, round(time.time() * 1000)]
        deadline = time.monotonic() + self._lock_wait
        while True:
            answer = self._acquire(keys=keys, args=args)
            if answer[0] == 1:
                break
            if answer[0] == 2:
                lang = answer[2].decode() if answer[2] else None
                raise HopRateLimitedError(int(answer[1]), lang)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)
        _, blob, lang, resume = answer
        return Loaded(
            session_id=session_id,
            msisdn=msisdn,
            token=token,
            session=Session.decode(blob) if blob else None,
            phone_lang=lang.decode() if lang else None,
            resume=orjson.loads(resume) if resume else None,
        )

    def save(
        self,
        loaded: Loaded,
        session: Session,
        *,
        language: str | None = None,
        resume: ResumeMode = "keep",
    ) -> bool:
        """Save the session and unlock it; False when the lock was lost (nothing written)."""
        if resume == "set" and not self._resume_ms:
            resume = "clear"  # a 0 s resume window keeps no snapshot (PX 0 is an error)
        snapshot = orjson.dumps(session.snapshot()) if resume == "set" else b""
        written = self._save(
            keys=self._keys(loaded.session_id, loaded.msisdn),
            args=[
                loaded.token,
                session.encode(),
                self._ttl_ms,
                language or "",
                self._lang_ms,
                resume,
                snapshot,
                self._resume_ms,
            ],
        )
        return bool(written)

    def release(self, loaded: Loaded) -> None:
        """Unlock the session without writing anything."""
        self._release(keys=self._keys(loaded.session_id, loaded.msisdn)[:1], args=[loaded.token])
