"""Build the process's Redis client: short timeouts, or an in-process emulation for dev."""

from __future__ import annotations

import redis

from gateway.config import Settings


def build_redis(settings: Settings) -> redis.Redis:
    """Return a Redis client for `settings` (fakeredis when emulation is on)."""
    if settings.emulate_redis:
        import fakeredis  # noqa: PLC0415 - dev-only fallback, never imported in production

        return fakeredis.FakeRedis()
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_socket_timeout,
        socket_connect_timeout=settings.redis_socket_timeout,
        health_check_interval=30,
    )
