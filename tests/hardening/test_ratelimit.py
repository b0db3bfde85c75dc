"""The one token bucket: bursts, refill, retry-after, fail open or closed without Redis."""

from __future__ import annotations

import pytest
import redis

from runtime.ratelimit import Rate, RateError, RateLimiter, take_token
from tests.hardening.conftest import dead_redis_url


def test_a_bucket_allows_a_burst_then_refills_continuously(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, "t", Rate(2, 10), fail_open=True)
    assert limiter.take("a", now=1000).allowed
    assert limiter.take("a", now=1000).allowed
    refused = limiter.take("a", now=1000)
    assert not refused.allowed and refused.retry_after == 5  # one token every 5 s
    assert not refused.degraded
    assert limiter.take("b", now=1000).allowed  # buckets are per subject
    assert not limiter.take("a", now=1004).allowed
    assert limiter.take("a", now=1005).allowed
    # A long pause never refills beyond the burst size.
    assert [limiter.take("a", now=5000).allowed for _ in range(3)] == [True, True, False]


def test_the_bucket_expires_once_full_again(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, "t", Rate(3, 60), fail_open=True)
    limiter.take("a")
    # One token of three taken: full again after 20 s; the key lives one second more.
    ttl = redis_client.pttl(limiter.key("a"))
    assert 20_000 < ttl <= 21_000
    limiter.take("a")
    assert 40_000 < redis_client.pttl(limiter.key("a")) <= 41_000


def test_a_refused_call_writes_nothing_and_another_layout_reads_as_full(
    redis_client: redis.Redis,
) -> None:
    limiter = RateLimiter(redis_client, "t", Rate(1, 10), fail_open=True)
    assert limiter.take("a", now=1000).allowed
    state = redis_client.get(limiter.key("a"))
    assert not limiter.take("a", now=1001).allowed
    assert redis_client.get(limiter.key("a")) == state
    # A bucket left as a hash by an older release is replaced, not an error.
    redis_client.delete(limiter.key("b"))
    redis_client.hset(limiter.key("b"), mapping={"t": "0", "ts": "1000000"})
    assert limiter.take("b", now=1000).allowed
    assert not limiter.take("b", now=1000).allowed


def test_an_off_rate_never_touches_redis(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, "t", Rate.parse("off"), fail_open=False)
    assert all(limiter.take("a").allowed for _ in range(50))
    assert redis_client.dbsize() == 0


@pytest.mark.parametrize(("fail_open", "allowed"), [(True, True), (False, False)])
def test_without_redis_the_fail_policy_decides(fail_open: bool, allowed: bool) -> None:
    dead = redis.Redis.from_url(dead_redis_url(), socket_connect_timeout=0.5)
    decision = RateLimiter(dead, "t", Rate(5, 60), fail_open=fail_open).take("a")
    assert decision.allowed is allowed
    assert decision.degraded


def test_rates_parse() -> None:
    assert Rate.parse("30/60") == Rate(30, 60.0)
    assert Rate.parse(" 5 / 0.5 ") == Rate(5, 0.5)
    assert not Rate.parse("off").enabled and not Rate.parse("0").enabled
    assert str(Rate.parse("30/60")) == "30/60" and str(Rate.parse("off")) == "off"
    for bad in ("30", "x/60", "30/0", "-1/60", "30/60/2"):
        with pytest.raises(RateError):
            Rate.parse(bad)


def test_take_token_in_python_decides_as_the_lua_bucket(redis_client: redis.Redis) -> None:
    # The USSD session store decides the hop bucket in Python (take_token) and writes it in its
    # own transaction: same decisions, same stored value and expiry as BUCKET_LUA's.
    limiter = RateLimiter(redis_client, "t", Rate(3, 10), fail_open=True)
    stored: bytes | None = None
    for now_s in (1000, 1000, 1000, 1000, 1002, 1003.4, 1003.4, 1020, 1020.5):
        now_ms = round(now_s * 1000)
        ours = take_token(stored, 3, 10_000, now_ms)
        lua = limiter.take("a", now=now_s)
        assert (ours.allowed, ours.retry_after) == (lua.allowed, lua.retry_after)
        if ours.allowed:
            assert redis_client.get(limiter.key("a")) == ours.value.encode()
            assert ours.px - 1000 <= redis_client.pttl(limiter.key("a")) <= ours.px
        stored = redis_client.get(limiter.key("a"))
    assert take_token(b"not a number", 1, 10_000, 5).allowed  # another layout: full
