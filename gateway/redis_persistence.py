"""Does Redis keep its data across a restart? A warning (never a refusal) when it does not.

The message log and the payments tables bring back what a Redis restarted empty forgot, but
sessions, rate limits, OTP codes and queued jobs live only in Redis: production should run it
with the append-only file (`appendonly yes`) or snapshots. Managed Redis often refuses CONFIG
(renamed or forbidden): then `INFO persistence` says whether AOF or RDB is on; when neither
answers, the warning says it could not tell.
"""

from __future__ import annotations

from typing import Final

import redis

ADVICE: Final = (
    "run it with `appendonly yes` (or RDB `save` points): a restart without persistence "
    "loses sessions, OTP codes and queued jobs (the message log re-queues SMS; README: "
    "Resilience)"
)


def persistence_warning(client: redis.Redis) -> str | None:
    """Return why Redis looks unpersisted, None when it persists (or cannot be reached)."""
    try:
        return _from_config(client)
    except redis.ConnectionError:
        return None  # readiness reports an unreachable Redis; nothing to say here
    except redis.ResponseError:
        pass  # CONFIG refused (managed Redis): ask INFO
    try:
        info = client.info("persistence")
    except redis.ConnectionError:
        return None
    except redis.ResponseError:
        return f"Redis: persistence could not be checked (CONFIG and INFO refused); {ADVICE}"
    aof = int(info.get("aof_enabled", 0))
    # A server with RDB save points reports the last save; without any, Redis 7 still does,
    # so INFO alone cannot prove snapshots: only AOF counts here.
    if aof:
        return None
    return f"Redis: INFO persistence says aof_enabled:0 (save points unknown); {ADVICE}"


def _from_config(client: redis.Redis) -> str | None:
    config = client.config_get("appendonly")
    config.update(client.config_get("save"))
    aof = str(config.get("appendonly", "no")).lower() == "yes"
    save = str(config.get("save", "")).strip()
    if aof or save:
        return None
    return f'Redis has no persistence (appendonly no, save ""); {ADVICE}'
