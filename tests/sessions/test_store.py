"""The Redis session store on a real Redis: lock + load, save + unlock, language, resume."""

from __future__ import annotations

import orjson
import pytest
import redis

from runtime import keys
from sessions.session import Session
from sessions.store import SessionStore, lock_key, resume_key, session_key

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
