"""The Redis session store on a real Redis: lock + load, save + unlock, language, resume."""

from __future__ import annotations

import orjson
import pytest
import redis

from runtime import keys
from runtime.ratelimit import Rate
from sessions.session import Session
from sessions.store import HopRateLimitedError, SessionStore, lock_key, resume_key, session_key

PHONE = "+243810000001"


@pytest.fixture
def store(redis_client: redis.Redis) -> SessionStore:
    return SessionStore(
        redis_client, ttl_seconds=60, resume_window_seconds=300, lock_wait_seconds=0
    )


def session(**changes: object) -> Session:
    value = Session("s1", PHONE, "main", "fr", data={"ref": "123"}, history=["main"])
    for key, item in changes.items():
        setattr(value, key, item)
    return value


def test_encode_decode_round_trip() -> None:
    original = session(reply=(False, "Hello\n1. A"), options=[("1", "A", "a")], tries=2)
    assert Session.decode(original.encode()) == original


def test_unknown_session_loads_as_none_and_locks(
    store: SessionStore, redis_client: redis.Redis
) -> None:
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    assert loaded.session is None and loaded.phone_lang is None and loaded.resume is None
    assert redis_client.get(lock_key("s1")) == loaded.token.encode()
    assert store.acquire("s1", PHONE) is None  # locked: no wait configured
    store.release(loaded)
    assert not redis_client.exists(lock_key("s1"))


def test_save_writes_with_ttl_and_unlocks(store: SessionStore, redis_client: redis.Redis) -> None:
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    assert store.save(loaded, session(), language="en", resume="set")
    assert not redis_client.exists(lock_key("s1"))
    assert 0 < redis_client.pttl(session_key("s1")) <= 60_000
    assert redis_client.get(keys.phone_language(PHONE)) == b"en"
    assert redis_client.pttl(keys.phone_language(PHONE)) > 300 * 24 * 3600 * 1000
    assert 0 < redis_client.pttl(resume_key(PHONE)) <= 300_000
    again = store.acquire("s1", PHONE)
    assert again is not None
    assert again.session == session()
    assert again.phone_lang == "en"
    assert again.resume is not None and again.resume["s"] == "main"


def test_clear_removes_the_resume_snapshot(store: SessionStore, redis_client: redis.Redis) -> None:
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    store.save(loaded, session(), resume="set")
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    store.save(loaded, session(ended=True), resume="clear")
    assert not redis_client.exists(resume_key(PHONE))


def test_keep_leaves_language_and_snapshot_alone(
    store: SessionStore, redis_client: redis.Redis
) -> None:
    redis_client.set(resume_key(PHONE), orjson.dumps({"s": "x"}))
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    store.save(loaded, session(), resume="keep")
    assert redis_client.get(resume_key(PHONE)) == b'{"s":"x"}'
    assert not redis_client.exists(keys.phone_language(PHONE))


def test_a_lost_lock_writes_nothing(store: SessionStore, redis_client: redis.Redis) -> None:
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    redis_client.set(lock_key("s1"), "someone-else")
    assert not store.save(loaded, session())
    assert not redis_client.exists(session_key("s1"))
    store.release(loaded)
    assert redis_client.get(lock_key("s1")) == b"someone-else"  # not ours to delete


def test_a_lock_that_expired_mid_hop_writes_nothing(redis_client: redis.Redis) -> None:
    # Nobody took the lock after it expired: the WATCH still sees the expiry as a change.
    store = SessionStore(redis_client, ttl_seconds=60, resume_window_seconds=300, lock_ms=1)
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    while redis_client.exists(lock_key("s1")):
        pass  # expires within a millisecond or two
    assert not store.save(loaded, session(), language="en", resume="set")
    assert not redis_client.exists(session_key("s1"))
    assert not redis_client.exists(keys.phone_language(PHONE))
    assert not redis_client.exists(resume_key(PHONE))


def test_a_lock_released_then_saved_again_writes_nothing(store: SessionStore) -> None:
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    store.release(loaded)
    assert not store.save(loaded, session())  # the hop let it go: not its to write under
    again = store.acquire("s1", PHONE)
    assert again is not None and again.session is None


def rated_store(client: redis.Redis, rate: str) -> SessionStore:
    return SessionStore(
        client,
        ttl_seconds=60,
        resume_window_seconds=300,
        lock_wait_seconds=0,
        hop_rate=Rate.parse(rate),
    )


def test_a_hop_waiting_for_the_lock_takes_no_token(redis_client: redis.Redis) -> None:
    store = rated_store(redis_client, "2/3600")
    first = store.acquire("s1", PHONE)
    assert first is not None
    assert store.acquire("s1", PHONE) is None  # busy: refused for the lock, not the rate
    assert store.save(first, session())
    second = store.acquire("s1", PHONE)
    assert second is not None  # the busy try took no token: this is the second one
    store.release(second)  # a hop that only replays takes its token too
    with pytest.raises(HopRateLimitedError):
        store.acquire("s1", PHONE)
    assert not redis_client.exists(lock_key("s1"))  # a refused hop leaves the lock free


def test_two_sessions_of_one_phone_cannot_spend_one_token_twice(
    redis_client: redis.Redis,
) -> None:
    store = rated_store(redis_client, "1/3600")
    one = store.acquire("s1", PHONE)
    two = store.acquire("s2", PHONE)  # both read a full bucket
    assert one is not None and two is not None
    assert store.save(one, session())
    # The bucket changed under the second hop's WATCH: its lock is still its own, so the hop
    # is written without its token (its reply goes out) and the token is not spent twice.
    assert store.save(two, session(session_id="s2"))
    assert redis_client.exists(session_key("s2"))
    assert not redis_client.exists(lock_key("s2"))
    with pytest.raises(HopRateLimitedError):
        store.acquire("s3", PHONE)


def test_a_hop_whose_lock_changed_hands_writes_nothing_even_on_a_token_race(
    redis_client: redis.Redis,
) -> None:
    store = rated_store(redis_client, "5/3600")
    one = store.acquire("s1", PHONE)
    two = store.acquire("s2", PHONE)
    assert one is not None and two is not None
    assert store.save(one, session())  # the bucket moves under the second hop's WATCH
    redis_client.set(lock_key("s2"), "someone-else")  # and its lock expired and was retaken
    assert not store.save(two, session(session_id="s2"))
    assert not redis_client.exists(session_key("s2"))
    assert redis_client.get(lock_key("s2")) == b"someone-else"


def test_a_phone_sql_knows_no_language_for_reads_as_none_chosen(
    store: SessionStore, redis_client: redis.Redis
) -> None:
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    assert store.save(loaded, session(), language=keys.NO_LANGUAGE)
    assert 0 < redis_client.pttl(keys.phone_language(PHONE)) <= keys.NO_LANGUAGE_TTL_SECONDS * 1000
    again = store.acquire("s1", PHONE)
    assert again is not None and again.phone_lang == keys.NO_LANGUAGE


class _NotPlain(redis.Redis):
    """Any client but a plain redis.Redis (Sentinel's...) talks through redis-py's public API."""


def test_a_client_that_is_not_plain_keeps_every_rule(redis_url: str) -> None:
    client = _NotPlain.from_url(redis_url)
    store = rated_store(client, "2/3600")
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    assert store.acquire("s1", PHONE) is None  # locked
    assert store.save(loaded, session(), language="en", resume="set")
    again = store.acquire("s1", PHONE)
    assert again is not None and again.session == session() and again.phone_lang == "en"
    client.set(lock_key("s1"), "someone-else")
    assert not store.save(again, session(tries=1))
    store.release(again)
    assert client.get(lock_key("s1")) == b"someone-else"
    client.delete(lock_key("s1"))
    third = store.acquire("s1", PHONE)  # the voided save took no token: this is the second
    assert third is not None
    store.release(third)
    with pytest.raises(HopRateLimitedError):
        store.acquire("s1", PHONE)
    client.close()
