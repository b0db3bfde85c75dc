"""The in-process Redis emulation (development only): `python -m gateway run --emulate-redis`.

fakeredis (with Lua, for the session store's scripts) stands in for Redis and jobs run inline
in the one process. Only the development runner (gateway.devserver) and tests import this
module, so a production process never loads fakeredis; production refuses
GUICHET_EMULATE_REDIS anyway (gateway.config).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import fakeredis
import redis
from flask import Flask

from gateway.app import create_app


def emulated_redis() -> redis.Redis:
    """Return a fresh in-process Redis emulation."""
    return fakeredis.FakeRedis()


def create_emulated_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app on the emulation: its own fakeredis, jobs run inline."""
    return create_app({**(test_config or {}), "emulate_redis": True}, redis_client=emulated_redis())
