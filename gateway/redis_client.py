"""Build the process's Redis client, with short timeouts (the emulation: gateway.emulation)."""

from __future__ import annotations

import redis

from gateway.config import ConfigError, Settings


def build_redis(settings: Settings) -> redis.Redis:
    """Return a Redis client for `settings`; the emulation's is built by gateway.emulation."""
    if settings.emulate_redis:
        # fakeredis is never imported here: production processes must not load it.
        raise ConfigError(
            "GUICHET_EMULATE_REDIS: the Redis emulation runs only in one development process, "
            "`python -m gateway run --emulate-redis`"
        )
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_socket_timeout,
        socket_connect_timeout=settings.redis_socket_timeout,
        health_check_interval=30,
    )
