"""Console sessions, server-side in Redis: the cookie holds only a random token.

The key is the token's SHA-256, so a Redis dump does not hand out live sessions. A session
expires after `idle_seconds` without a request (the key's TTL, renewed on use) and at the latest
`max_seconds` after login. Logging in always starts a new session (a new token) and deletes the
anonymous one that carried the login form: a token planted in a browser before login is worth
nothing after it (no session fixation). Each session carries its CSRF token.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import redis

from runtime import keys


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """One browser's session: who (0 before login), its CSRF token, language, start time."""

    token: str
    user_id: int
    csrf: str
    lang: str
    started: float


class SessionBook:
    """Create, read, renew and end console sessions."""

    def __init__(self, client: redis.Redis, *, idle_seconds: int, max_seconds: int) -> None:
        self._redis = client
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds

    def start(self, *, user_id: int = 0, lang: str) -> ConsoleSession:
        """Create a session with a fresh token and CSRF token."""
        session = ConsoleSession(
            token=secrets.token_urlsafe(32),
            user_id=user_id,
            csrf=secrets.token_urlsafe(32),
            lang=lang,
            started=time.time(),
        )
        key = keys.console_session(_digest(session.token))
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(
            key,
            mapping={
                "user": user_id,
                "csrf": session.csrf,
                "lang": lang,
                "started": session.started,
            },
        )
        pipe.expire(key, self.idle_seconds)
        if user_id:
            pipe.sadd(keys.console_user_sessions(user_id), _digest(session.token))
            pipe.expire(keys.console_user_sessions(user_id), self.max_seconds)
        pipe.execute()
        return session

    def load(self, token: str | None) -> ConsoleSession | None:
        """Return the live session of `token` and renew its idle time; None when expired."""
        if not token or len(token) > 100:
            return None
        key = keys.console_session(_digest(token))
        raw = self._redis.hgetall(key)
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        started = float(fields.get("started", "0"))
        if time.time() - started > self.max_seconds:
            self._redis.delete(key)
            return None
        self._redis.expire(key, self.idle_seconds)
        return ConsoleSession(
            token=token,
            user_id=int(fields.get("user", "0")),
            csrf=fields.get("csrf", ""),
            lang=fields.get("lang", ""),
            started=started,
        )

    def set_lang(self, session: ConsoleSession, lang: str) -> None:
        """Remember the language the person chose."""
        self._redis.hset(keys.console_session(_digest(session.token)), "lang", lang)

    def end(self, token: str) -> None:
        """End one session (logout, or the anonymous one replaced at login)."""
        self._redis.delete(keys.console_session(_digest(token)))

    def end_all(self, user_id: int, *, keep: str | None = None) -> None:
        """End every session of a staff member but `keep` (password change, disable, reset)."""
        index = keys.console_user_sessions(user_id)
        kept = _digest(keep) if keep else None
        for raw in self._redis.smembers(index):
            digest = _text(raw)
            if digest != kept:
                self._redis.delete(keys.console_session(digest))
                self._redis.srem(index, digest)
