"""REDIS_URL and QUEUE_REDIS_URL: the three topologies read, and what cannot work refused."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.config import ConfigError, Settings
from gateway.redis_url import RedisTarget, parse_redis_url


def test_a_sentinel_url_names_its_sentinels_master_db_and_password() -> None:
    url = "redis+sentinel://:s%40cret@10.0.0.1:26379,10.0.0.2,10.0.0.3:26380/guichet/4"
    assert parse_redis_url(url) == RedisTarget(
        "sentinel",
        url,
        (("10.0.0.1", 26379), ("10.0.0.2", 26379), ("10.0.0.3", 26380)),
        "guichet",
        4,
        None,
        "s@cret",
    )


def test_a_cluster_url_names_its_nodes() -> None:
    target = parse_redis_url("redis+cluster://user:pw@n1:7000,n2:7001")
    assert (target.topology, target.nodes, target.username, target.password) == (
        "cluster",
        (("n1", 7000), ("n2", 7001)),
        "user",
        "pw",
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("memcached://x:1", "scheme"),
        ("redis+sentinel://h:1", "master name"),
        ("redis+sentinel://h:1/m/x", "not a number"),
        ("redis+sentinel:///m", "at least one host"),
        ("redis+cluster://h:x", "host:port"),
        ("redis+cluster://h:1/3", "db 0"),
    ],
)
def test_a_url_that_cannot_work_says_why(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_redis_url(url)


def test_a_cluster_without_a_queue_redis_is_refused_in_any_environment() -> None:
    with pytest.raises(ConfigError, match="QUEUE_REDIS_URL is missing"):
        Settings.from_env({}, {"redis_url": "redis+cluster://127.0.0.1:7000"})
    with pytest.raises(ConfigError, match="rq cannot run on a cluster"):
        Settings.from_env(
            {},
            {
                "redis_url": "redis+cluster://127.0.0.1:7000",
                "queue_redis_url": "redis+cluster://127.0.0.1:7001",
            },
        )
    both = Settings.from_env(
        {},
        {
            "redis_url": "redis+cluster://127.0.0.1:7000",
            "queue_redis_url": "redis+sentinel://127.0.0.1:26379/guichet/0",
        },
    )
    assert both.redis_problems() == []


def test_production_names_the_missing_queue_redis() -> None:
    # Built without validation (as `gateway check` reads a broken environment).
    cluster = dataclasses.replace(Settings.from_env({}, {}), redis_url="redis+cluster://n:1")
    assert any("QUEUE_REDIS_URL is missing" in line for line in cluster.production_problems())
