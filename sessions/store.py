"""Redis session store: one round trip to lock and load, one to save and unlock.

Both round trips are plain commands pipelined on one connection held for the hop, no Lua:
`SET lock NX PX` + `WATCH lock[, bucket]` + the GETs, then `MULTI` … `DEL lock` `EXEC`. The
WATCH makes the save conditional on the lock exactly as a token check would: EXEC writes
nothing if the lock expired or changed hands since it was taken (Redis counts an expiry as a
change). A script's `redis.call` cost Redis 3-4× the same command sent plainly, and the two
scripts were most of Redis's work per hop (bench/README.md, "Redis work per hop").

The per-phone hop bucket (GCRA, runtime.ratelimit) is read with the session and decided here;
the token is written by the hop's EXEC (its save, or its release), and the bucket is WATCHed
too, so two hops of one phone racing (two sessions at once: only forged traffic does that)
cannot both spend the same token: the second one's EXEC writes nothing and it fails politely.
A hop waiting for the lock takes no token, a refused hop leaves the lock free.

Keys (runtime.keys, under the installation's prefix): `ussd:s:{<session>}` (the session, TTL),
`ussd:lock:{<session>}` (a token, PX), `ussd:lang:{<phone>}` (preferred language, long TTL;
or `keys.NO_LANGUAGE` for a day once SQL said the phone chose none),
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
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import orjson
import redis
from redis.cluster import RedisCluster

from runtime import keys
from runtime.ratelimit import BUCKET_LUA, Rate, take_token
from sessions.lean_script import Lanes, LeanScript, pack
from sessions.session import Session

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
_Command = tuple[str | int | bytes, ...]


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


class _Hold:
    """The connection a hop holds from its acquire to its save or release, WATCH pending."""

    __slots__ = ("bucket", "lane")

    def __init__(self, lane: Any, bucket: tuple[str, str, int] | None) -> None:
        self.lane: Any = lane
        self.bucket = bucket  # (key, value, px) the hop's EXEC writes: the token it takes

    def take(self) -> Any:
        lane, self.lane = self.lane, None
        return lane


@dataclass(frozen=True, slots=True)
class Loaded:
    """A locked session: what Redis held for it and for its phone."""

    session_id: str
    msisdn: str
    token: str
    session: Session | None
    phone_lang: str | None  # as stored: keys.NO_LANGUAGE says SQL knows none (no lookup)
    resume: dict[str, Any] | None
    hold: _Hold | None = field(default=None, compare=False, repr=False)


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
        # A cluster client has no single pool: its hops run the per-slot scripts instead.
        self._plain_lanes = None if self._split else Lanes(client)
        # Only when the held connection is gone (it failed): release by token, in Lua.
        self._release = LeanScript(client, _RELEASE)
        if self._split:
            self._lock_session = LeanScript(client, _LOCK_SESSION)
            self._load_phone = LeanScript(client, _LOAD_PHONE)
            self._save_session = LeanScript(client, _SAVE_SESSION)
            self._save_phone = LeanScript(client, _SAVE_PHONE)
        self._token_pid = 0
        self._token_base = ""
        self._tokens = itertools.count()

    @property
    def _lanes(self) -> Lanes:
        # Only the plain (non-cluster) path holds lanes.
        assert self._plain_lanes is not None, "a cluster store has no lanes"
        return self._plain_lanes

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
        rate = self._hop_rate
        bucket = keys.key("ussd", "rl", keys.tag(msisdn)) if rate is not None else None
        now_ms = round(time.time() * 1000)
        if self._split:
            return self._acquire_split(session_id, msisdn, token, bucket, now_ms)
        lock = hop_keys[0]
        # One MGET for everything read (a key of another type reads as absent: the bucket
        # then counts as full, the session as new; the save's SET replaces either).
        commands: list[_Command] = [
            ("SET", lock, token, "NX", "PX", self._lock_ms),
            ("WATCH", lock) if bucket is None else ("WATCH", lock, bucket),
            ("MGET", *hop_keys[1:]) if bucket is None else ("MGET", *hop_keys[1:], bucket),
        ]
        packed = pack(commands)
        deadline = time.monotonic() + self._lock_wait
        lane, reused = self._lanes.take()
        try:
            try:
                replies = lane.exchange(packed, 3)
            except redis.ConnectionError:
                if not reused:
                    raise
                # Most likely a socket that died while idle: one fresh connection, once.
                lane.close()
                lane, reused = self._lanes.new(), False
                replies = lane.exchange(packed, 3)
            while replies[0] is None:
                # Busy. The WATCH just sent saw the holder's lock: the holder's DEL would
                # void our EXEC once we hold it, so each new try starts with UNWATCH.
                if time.monotonic() >= deadline:
                    lane.exchange(pack([("UNWATCH",)]), 1)
                    self._lanes.give(lane)
                    return None
                time.sleep(0.01)
                replies = lane.exchange(pack([("UNWATCH",), *commands]), 4)[1:]
            for reply in replies:
                if isinstance(reply, redis.RedisError):
                    raise reply
            blob, phone_lang, snapshot, *stored = replies[2]
            take = None
            if rate is not None and bucket is not None:
                take = take_token(stored[0], rate.count, rate.period_ms, now_ms)
                if not take.allowed:
                    self._exec(lane, [("DEL", lock)])
                    self._lanes.give(lane)
                    raise HopRateLimitedError(
                        take.retry_after, phone_lang.decode() if phone_lang else None
                    )
        except HopRateLimitedError:
            raise
        except BaseException:
            # A timeout or an interrupt leaves a reply in flight: that socket is never reused.
            lane.close()
            raise
        return Loaded(
            session_id=session_id,
            msisdn=msisdn,
            token=token,
            session=Session.decode(blob) if blob else None,
            phone_lang=phone_lang.decode() if phone_lang else None,
            resume=orjson.loads(snapshot) if snapshot else None,
            hold=_Hold(lane, (bucket, take.value, take.px) if take and bucket else None),
        )

    def _exec(self, lane: Any, commands: list[_Command]) -> bool:
        """Run `commands` in MULTI/EXEC on the held lane; False when the WATCH saw a change."""
        count = len(commands) + 2
        replies = lane.exchange(pack([("MULTI",), *commands, ("EXEC",)]), count)
        for reply in replies[:-1]:
            if isinstance(reply, redis.RedisError):
                raise reply
        done = replies[-1]
        if done is None:
            return False
        for reply in done:
            if isinstance(reply, redis.RedisError):
                raise reply
        return True

    def _acquire_split(
        self, session_id: str, msisdn: str, token: str, bucket: str | None, now_ms: int
    ) -> Loaded | None:
        # Cluster: the session's and the phone's keys sit in two slots, no transaction spans
        # both: one script per slot, the session's first (a hop waiting takes no token).
        hop_keys = self._keys(session_id, msisdn)
        args: list[str | int] = [token, self._lock_ms]
        if bucket is not None and self._hop_rate is not None:
            hop_keys.append(bucket)
            args += [self._hop_rate.count, self._hop_rate.period_ms, now_ms]
        deadline = time.monotonic() + self._lock_wait
        while True:
            answer = self._acquire_cluster(hop_keys, args)
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

    def _acquire_cluster(self, keys: list[str], args: list[str | int]) -> Any:
        # {0} busy, {2, retry after, lang} refused, {1, session, lang, resume} locked.
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
        none_ms = keys.NO_LANGUAGE_TTL_SECONDS * 1000
        lang_ms = none_ms if language == keys.NO_LANGUAGE else self._lang_ms
        phone_args: list[str | int | bytes] = [
            language or "",
            lang_ms,
            resume,
            snapshot,
            self._resume_ms,
        ]
        if not self._split:
            hold = loaded.hold
            lane = hold.take() if hold is not None else None
            if hold is None or lane is None:
                return False  # already saved or released: the lock is not ours to write under
            lock, session_key_, lang, resume_key_ = hop_keys
            commands: list[_Command] = [("SET", session_key_, session.encode(), "PX", self._ttl_ms)]
            if language:
                commands.append(("SET", lang, language, "PX", lang_ms))
            if resume == "set":
                commands.append(("SET", resume_key_, snapshot, "PX", self._resume_ms))
            elif resume == "clear" and loaded.resume is not None:
                # Nothing to clear when the acquire found none (a snapshot another session
                # of the phone wrote since is left to offer: harmless).
                commands.append(("DEL", resume_key_))
            return self._finish(lane, hold, [*commands, ("DEL", lock)], (lock, loaded.token))
        # Cluster: the session (and the lock check) first; the phone's keys only by the holder.
        if not self._save_session(keys=hop_keys[:2], args=session_args):
            return False
        if language or resume != "keep":
            self._save_phone(keys=hop_keys[2:], args=phone_args)
        return True

    def release(self, loaded: Loaded) -> None:
        """Unlock the session without writing anything (the hop's token is still taken)."""
        lane = loaded.hold.take() if loaded.hold is not None else None
        if lane is None:
            # Cluster, or the held connection failed: delete the lock only if still ours.
            self._release(keys=[lock_key(loaded.session_id)], args=[loaded.token])
            return
        assert loaded.hold is not None
        lock = lock_key(loaded.session_id)
        self._finish(lane, loaded.hold, [("DEL", lock)], (lock, loaded.token))

    def _finish(
        self, lane: Any, hold: _Hold, commands: list[_Command], owner: tuple[str, str]
    ) -> bool:
        # The hop's EXEC: its writes, its token, the lock's DEL; nothing if the WATCH fired.
        metered = commands
        if hold.bucket is not None:
            bucket, value, px = hold.bucket
            metered = [("SET", bucket, value, "PX", px), *commands]
        try:
            done = self._exec(lane, metered)
            if not done and hold.bucket is not None:
                # The WATCH fired. If the lock is still ours, only the phone's bucket moved:
                # another session of the same phone took a token meanwhile. Write this hop
                # without its token rather than withhold its reply: the race loses at most
                # one token, never a citizen's screen.
                lock, token = owner
                held = lane.exchange(pack([("WATCH", lock), ("GET", lock)]), 2)
                if held[1] in (token, token.encode()):
                    done = self._exec(lane, commands)
                else:
                    lane.exchange(pack([("UNWATCH",)]), 1)
        except BaseException:
            lane.close()
            raise
        self._lanes.give(lane)
        return done
