"""Redis session store: one round trip to lock and load, one to save and unlock.

Keys: `ussd:s:<session>` (the session, TTL), `ussd:lock:<session>` (a token, PX),
`ussd:lang:<phone>` (preferred language, long TTL) and `ussd:resume:<phone>` (snapshot of a
journey left mid-way, TTL = the resume window).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson
import redis

from sessions.session import Session

# KEYS: lock, session, lang, resume. ARGV: token, lock ms.
_ACQUIRE: Final = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3]), redis.call('GET', KEYS[4])}
end
return {0}
"""
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
    ) -> None:
        self._client = client
        self._ttl_ms = ttl_seconds * 1000
        self._resume_ms = resume_window_seconds * 1000
        self._lock_ms = lock_ms
        self._lock_wait = lock_wait_seconds
        self._lang_ms = language_ttl_seconds * 1000
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._save = client.register_script(_SAVE)
        self._release = client.register_script(_RELEASE)

    def _keys(self, session_id: str, msisdn: str) -> list[str]:
        p = self._prefix
        return [
            f"{p}:lock:{session_id}",
            f"{p}:s:{session_id}",
            f"{p}:lang:{msisdn}",
            f"{p}:resume:{msisdn}",
        ]

    def acquire(self, session_id: str, msisdn: str) -> Loaded | None:
        """Lock the session and load it; wait briefly for a concurrent hop, else None."""
        keys = self._keys(session_id, msisdn)
        token = secrets.token_hex(8)
        deadline = time.monotonic() + self._lock_wait
        while True:
            answer = self._acquire(keys=keys, args=[token, self._lock_ms])
            if answer[0] == 1:
                break
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
