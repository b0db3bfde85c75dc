"""Find a person in the stores: every Redis key and SQL column whose content names them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine


def redis_dump(client: redis.Redis, key: bytes) -> str:
    """Return a key's name and content as one string to search."""
    kind = client.type(key).decode()
    content: Any
    if kind == "string":
        content = client.get(key)
    elif kind == "hash":
        content = client.hgetall(key)
    elif kind == "list":
        content = client.lrange(key, 0, -1)
    elif kind == "set":
        content = client.smembers(key)
    elif kind == "zset":
        content = client.zrange(key, 0, -1)
    elif kind == "stream":
        content = client.xrange(key)
    else:
        content = kind
    return key.decode() + " " + repr(content)


def redis_keys_naming(client: redis.Redis, markers: Iterable[str]) -> set[str]:
    """Return the keys whose name or content holds one of `markers`."""
    wanted = tuple(markers)
    return {
        key.decode()
        for key in client.scan_iter(count=1000)
        if any(m in redis_dump(client, key) for m in wanted)
    }


def sql_columns_naming(
    engine: Engine, metadatas: Iterable[sa.MetaData], markers: Iterable[str]
) -> set[tuple[str, str]]:
    """Return (table, column) of every column holding one of `markers` in some row."""
    wanted = tuple(markers)
    found: set[tuple[str, str]] = set()
    inspector = sa.inspect(engine)
    with engine.connect() as conn:
        for metadata in metadatas:
            for table in metadata.sorted_tables:
                if not inspector.has_table(table.name):
                    continue
                for row in conn.execute(sa.select(table)).all():
                    for column, value in row._mapping.items():
                        if value is not None and any(m in str(value) for m in wanted):
                            found.add((table.name, str(column)))
    return found
