"""Redis session store: one round trip to lock and load, one to save and unlock.

Keys (runtime.keys, under the installation's prefix): `ussd:s:{<session>}` (the session, TTL),
`ussd:lock:{<session>}` (a token, PX), `ussd:lang:{<phone>}` (preferred language, long TTL),
`ussd:resume:{<phone>}` (snapshot of a journey left mid-way, TTL = the resume window) and
`ussd:rl:{<phone>}` (the hop rate bucket).

On a Redis Cluster the session's keys and the phone's keys sit in two slots, and one script
cannot touch both: the store then makes two calls where one does elsewhere (session script,
then phone script), in the order that keeps the rules: a hop waiting for the lock takes no
token, a refused hop leaves the lock free, the phone's keys are written only by the lock's
holder.
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
from redis.cluster import RedisCluster

from runtime import keys
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
# Cluster: the same steps, one slot per script. KEYS: lock, session. ARGV: token, lock ms.
_LOCK_SESSION: Final = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('GET', KEYS[2])}
end
return {0}
"""
# KEYS: lang, resume[, hop bucket]. ARGV: capacity, period ms, now ms (with a bucket).
_LOAD_PHONE: Final = (
    BUCKET_LUA
    + """
if KEYS[3] then
  local bucket = take_token(KEYS[3], ARGV[1], ARGV[2], 1, ARGV[3])
  if bucket[1] == 0 then return {2, bucket[2], redis.call('GET', KEYS[1])} end
end
return {1, redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}
"""
)
# KEYS: lock, session. ARGV: token, session, session ms.
_SAVE_SESSION: Final = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[1])
return 1
"""
# KEYS: lang, resume. ARGV: lang ('' = keep), lang ms, resume mode, resume snapshot, resume ms.
_SAVE_PHONE: Final = """
if ARGV[1] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
if ARGV[3] == 'set' then
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
elseif ARGV[3] == 'clear' then
  redis.call('DEL', KEYS[2])
end
return 1
"""
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

ResumeMode = Literal["keep", "set", "clear"]


def session_key(session_id: str) -> str:
    """Return the key of a USSD session (the end-of-session events read it)."""
    return keys.key("ussd", "s", keys.tag(session_id))


def lock_key(session_id: str) -> str:
    """Return the key of a USSD session's lock."""
    return keys.key("ussd", "lock", keys.tag(session_id))


def resume_key(msisdn: str) -> str:
    """Return the key of a phone's journey left mid-way."""
    return keys.key("ussd", "resume", keys.tag(msisdn))


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
        hop_rate: Rate | None = None,
    ) -> None:
        self._client = client
        self._ttl_ms = ttl_seconds * 1000
        self._resume_ms = resume_window_seconds * 1000
        self._lock_ms = lock_ms
        self._lock_wait = lock_wait_seconds
        self._lang_ms = language_ttl_seconds * 1000
        self._hop_rate = hop_rate if hop_rate is not None and hop_rate.enabled else None
        # A cluster cannot run one script over the session's and the phone's slots.
        self._split = isinstance(client, RedisCluster)
        # Two script calls per hop: LeanScript skips redis-py's per-command layers.
        self._acquire = LeanScript(client, _ACQUIRE)
        self._save = LeanScript(client, _SAVE)
        self._release = LeanScript(client, _RELEASE)
        if self._split:
            self._lock_session = LeanScript(client, _LOCK_SESSION)
            self._load_phone = LeanScript(client, _LOAD_PHONE)
            self._save_session = LeanScript(client, _SAVE_SESSION)
            self._save_phone = LeanScript(client, _SAVE_PHONE)
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
        return [
            lock_key(session_id),
            session_key(session_id),
            keys.phone_language(msisdn),
            resume_key(msisdn),
        ]

    def acquire(self, session_id: str, msisdn: str) -> Loaded | None:
        """Lock the session and load it; wait briefly for a concurrent hop, else None.

        Raise HopRateLimitedError when the phone is over its hop rate.
        """
        hop_keys = self._keys(session_id, msisdn)
        token = self._token()
        args: list[str | int] = [token, self._lock_ms]
        rate = self._hop_rate
        if rate is not None:
            hop_keys.append(keys.key("ussd", "rl", keys.tag(msisdn)))
            args += [rate.count, rate.period_ms, round(time.time() * 1000)]
        acquire = self._acquire_split if self._split else self._acquire
        deadline = time.monotonic() + self._lock_wait
        while True:
            answer = acquire(keys=hop_keys, args=args)
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

    def _acquire_split(self, keys: list[str], args: list[str | int]) -> Any:
        # _ACQUIRE's answers, from one call per slot (Cluster).
        locked = self._lock_session(keys=keys[:2], args=args[:2])
        if locked[0] != 1:
            return locked
        try:
            phone = self._load_phone(keys=keys[2:], args=args[2:])
        except BaseException:
            self._release(keys=keys[:1], args=args[:1])
            raise
        if phone[0] == 2:
            self._release(keys=keys[:1], args=args[:1])
            return phone
        return [1, locked[1], phone[1], phone[2]]

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
        hop_keys = self._keys(loaded.session_id, loaded.msisdn)
        session_args: list[str | int | bytes] = [loaded.token, session.encode(), self._ttl_ms]
        phone_args: list[str | int | bytes] = [
            language or "",
            self._lang_ms,
            resume,
            snapshot,
            self._resume_ms,
        ]
        if not self._split:
            return bool(self._save(keys=hop_keys, args=[*session_args, *phone_args]))
        # Cluster: the session (and the lock check) first; the phone's keys only by the holder.
        if not self._save_session(keys=hop_keys[:2], args=session_args):
            return False
        if language or resume != "keep":
            self._save_phone(keys=hop_keys[2:], args=phone_args)
        return True

    def release(self, loaded: Loaded) -> None:
        """Unlock the session without writing anything."""
        self._release(keys=[lock_key(loaded.session_id)], args=[loaded.token])
