"""The Redis session store on a real Redis: lock + load, save + unlock, language, resume."""

from __future__ import annotations

import orjson
import pytest
import redis

from sessions.session import Session
from sessions.store import SessionStore

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
    assert redis_client.get("ussd:lock:s1") == loaded.token.encode()
    assert store.acquire("s1", PHONE) is None  # locked: no wait configured
    store.release(loaded)
    assert not redis_client.exists("ussd:lock:s1")


def test_save_writes_with_ttl_and_unlocks(store: SessionStore, redis_client: redis.Redis) -> None:
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    assert store.save(loaded, session(), language="en", resume="set")
    assert not redis_client.exists("ussd:lock:s1")
    assert 0 < redis_client.pttl("ussd:s:s1") <= 60_000
    assert redis_client.get(f"ussd:lang:{PHONE}") == b"en"
    assert redis_client.pttl(f"ussd:lang:{PHONE}") > 300 * 24 * 3600 * 1000
    assert 0 < redis_client.pttl(f"ussd:resume:{PHONE}") <= 300_000
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
    assert not redis_client.exists(f"ussd:resume:{PHONE}")


def test_keep_leaves_language_and_snapshot_alone(
    store: SessionStore, redis_client: redis.Redis
) -> None:
    redis_client.set(f"ussd:resume:{PHONE}", orjson.dumps({"s": "x"}))
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    store.save(loaded, session(), resume="keep")
    assert redis_client.get(f"ussd:resume:{PHONE}") == b'{"s":"x"}'
    assert not redis_client.exists(f"ussd:lang:{PHONE}")


def test_a_lost_lock_writes_nothing(store: SessionStore, redis_client: redis.Redis) -> None:
    loaded = store.acquire("s1", PHONE)
    assert loaded is not None
    redis_client.set("ussd:lock:s1", "someone-else")
    assert not store.save(loaded, session())
    assert not redis_client.exists("ussd:s:s1")
    store.release(loaded)
    assert redis_client.get("ussd:lock:s1") == b"someone-else"  # not ours to delete
