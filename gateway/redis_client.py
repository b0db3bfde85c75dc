"""Build the process's Redis clients: one server, Sentinel or Cluster (gateway/redis_url.py).

Every topology is redis-py's own client: `Sentinel.master_for` asks the sentinels for the
master and asks again when a connection breaks or the old master answers READONLY after a
failover (redis-py's SentinelManagedConnection turns that into a ConnectionError, which its
retry re-runs on the new master); `RedisCluster` follows MOVED/ASK.

Sentinel's failover is not atomic: the old master keeps taking writes until Sentinel turns it
into a replica (~10 s later), and what it takes then is thrown away. The data nodes therefore
run `min-replicas-to-write 1`: a master that lost its replica answers NOREPLICAS instead of
acknowledging a write nobody keeps (README "Scaling out"). `FollowsMaster` treats that answer
like READONLY (ask the sentinels again), and the retry backs off in tenths of a second, not
redis-py's default seconds, so a hop waits ~1 s at most before its polite END.

The rest of the code types the client as `redis.Redis`: RedisCluster offers the same commands
(not the same class), so it is cast here, and the stores that must know (one script per slot)
check its class.

rq cannot run on a cluster: queues live on QUEUE_REDIS_URL (a plain or Sentinel Redis), or on
REDIS_URL when that is not a cluster.
"""

from __future__ import annotations

from typing import Any, cast

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from gateway.config import ConfigError, Settings
from gateway.redis_url import parse_redis_url
from runtime import keys

HEALTH_CHECK_SECONDS = 30
# A hop or a callback retries a switching master for ~1 s before it answers "try again".
SENTINEL_RETRY = Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.4), retries=3)


class FollowsMaster(SentinelManagedConnection):
    """redis-py's Sentinel connection; NOREPLICAS, like READONLY, sends it back to the sentinels."""

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a reply; a master that lost its replicas is left for the sentinels' master."""
        try:
            return super().read_response(*args, **kwargs)
        except redis.ResponseError as error:
            if not str(error).startswith("NOREPLICAS") or not self.connection_pool.is_master:
                raise
            self.disconnect()  # type: ignore[no-untyped-call]
            raise redis.ConnectionError("the master lost its replicas (a failover?)") from error


def build_redis(settings: Settings) -> redis.Redis:
    """Return the Redis client of sessions, limits and stores (the emulation: gateway.emulation).

    REDIS_PREFIX becomes this process's key namespace here too: whoever opens the
    installation's Redis (web, worker, a CLI) names its keys as the others do.
    """
    keys.use_prefix(settings.redis_prefix)
    if settings.emulate_redis:
        # fakeredis is never imported here: production processes must not load it.
        raise ConfigError(
            "GUICHET_EMULATE_REDIS: the Redis emulation runs only in one development process, "
            "`python -m gateway run --emulate-redis`"
        )
    return connect(settings.redis_url, socket_timeout=settings.redis_socket_timeout)


def queue_url(settings: Settings) -> str:
    """Return the URL rq's queues live on: QUEUE_REDIS_URL, else REDIS_URL."""
    return settings.queue_redis_url or settings.redis_url


def build_queue_redis(settings: Settings, client: redis.Redis) -> redis.Redis:
    """Return the client of rq's queues for web processes (`client` when they share Redis)."""
    if settings.emulate_redis or not settings.queue_redis_url:
        return client
    return connect(settings.queue_redis_url, socket_timeout=settings.redis_socket_timeout)


def connect(url: str, *, socket_timeout: float | None) -> redis.Redis:
    """Return a client of `url` (any topology); nothing is sent before the first command."""
    target = parse_redis_url(url)
    # Any: redis-py's keyword arguments differ by client class (typed one by one there).
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "health_check_interval": HEALTH_CHECK_SECONDS,
    }
    if target.topology == "sentinel":
        sentinel = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            list(target.nodes),
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
        )
        master: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            target.master,
            db=target.db,
            username=target.username,
            password=target.password,
            connection_class=FollowsMaster,
            retry=SENTINEL_RETRY,
            **options,
        )
        return master
    if target.topology == "cluster":
        cluster = RedisCluster(
            startup_nodes=[
                ClusterNode(host, port)  # type: ignore[no-untyped-call]
                for host, port in target.nodes
            ],
            username=target.username,
            password=target.password,
            **options,
        )
        # Same commands, another class: see the module docstring.
        return cast(redis.Redis, cluster)
    return redis.Redis.from_url(url, **options)
