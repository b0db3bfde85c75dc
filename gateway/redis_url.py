"""Read a Redis URL: one server, a Sentinel-watched master, or a Cluster.

`redis://` / `rediss://` / `unix://` are redis-py's own (`Redis.from_url`). Two more name a
topology redis-py builds from a list of nodes rather than from one URL:

    redis+sentinel://[[user]:password@]host:port[,host:port...]/<master name>[/<db>]
    redis+cluster://[[user]:password@]host:port[,host:port...]

The password is the data nodes' (master, replicas, cluster nodes); the sentinels are asked
without one. Only the parsing lives here (settings validate with it, no connection is made).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import unquote

SENTINEL_SCHEME: Final = "redis+sentinel"
CLUSTER_SCHEME: Final = "redis+cluster"
PLAIN_SCHEMES: Final = frozenset({"redis", "rediss", "unix"})
DEFAULT_SENTINEL_PORT: Final = 26379
DEFAULT_REDIS_PORT: Final = 6379

Topology = Literal["plain", "sentinel", "cluster"]


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where a URL points: its topology and, for Sentinel and Cluster, the nodes to ask."""

    topology: Topology
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    master: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None


def parse_redis_url(url: str) -> RedisTarget:
    """Return the target of `url`; raise ValueError saying what is wrong with it."""
    scheme, sep, rest = url.strip().partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ValueError(f"{_shown(url)} is not a URL")
    if scheme in PLAIN_SCHEMES:
        return RedisTarget("plain", url.strip())
    if scheme not in {SENTINEL_SCHEME, CLUSTER_SCHEME}:
        raise ValueError(
            f"scheme {scheme!r} is not one of redis, rediss, unix, redis+sentinel, redis+cluster"
        )
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    default_port = DEFAULT_SENTINEL_PORT if scheme == SENTINEL_SCHEME else DEFAULT_REDIS_PORT
    nodes = tuple(_node(part, default_port) for part in hosts.split(",") if part.strip())
    if not nodes:
        raise ValueError(f"{scheme}:// needs at least one host:port")
    segments = [unquote(s) for s in path.split("?", 1)[0].split("/") if s]
    if scheme == CLUSTER_SCHEME:
        if segments and segments != ["0"]:
            raise ValueError("redis+cluster:// has no database number (a cluster has only db 0)")
        return RedisTarget("cluster", url, nodes, username=username, password=password)
    if not segments or len(segments) > 2:
        raise ValueError("redis+sentinel:// needs /<master name>[/<db>] after the sentinels")
    db = 0
    if len(segments) == 2:
        if not segments[1].isdigit():
            raise ValueError(f"redis+sentinel:// database {segments[1]!r} is not a number")
        db = int(segments[1])
    return RedisTarget("sentinel", url, nodes, segments[0], db, username, password)


def _node(part: str, default_port: int) -> tuple[str, int]:
    host, colon, port = part.strip().rpartition(":")
    if not colon:
        return part.strip(), default_port
    if not port.isdigit() or not host:
        raise ValueError(f"{part.strip()!r} is not host:port")
    return host.strip("[]"), int(port)


def _shown(url: str) -> str:
    # Never echo a password: a URL may carry one.
    return repr(url.rsplit("@", maxsplit=1)[-1])
