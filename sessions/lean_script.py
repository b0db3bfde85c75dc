"""Run a Lua script with EVALSHA straight on a held connection: the hop path's Redis call.

redis-py's `Script.__call__` goes through `execute_command`: a pool checkout that polls the
socket for stray data, the Retry wrapper, response callbacks, command parsing hooks. On our
2-vCPU VM that is ~80 µs of CPU per call, as much as the round trip's two syscalls, and a hop
makes two script calls. `LeanScript` keeps idle connections of its own (one per concurrent
caller: thread or greenlet) and speaks EVALSHA on them directly; behaviour stays redis-py's:
same connection class and settings, NOSCRIPT reloads the script, a connection that broke while
idle (Redis restarted) is replaced and the call tried once more, errors are redis errors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError


class LeanScript:
    """A registered Lua script called as `script(keys=[...], args=[...])`."""

    def __init__(self, client: redis.Redis, source: str) -> None:
        self._script: Script = client.register_script(source)
        pool = client.connection_pool
        # Anything but a plain socket client (fakeredis, a cluster) takes redis-py's path.
        self._lean = type(client) is redis.Redis and issubclass(
            pool.connection_class, redis.Connection
        )
        self._factory = pool.connection_class
        self._kwargs = pool.connection_kwargs
        self._idle: list[redis.Connection] = []
        self._pid = os.getpid()

    def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run the script; raise a redis error like redis-py would."""
        if not self._lean:
            return self._script(keys=keys, args=args)
        if self._pid != os.getpid():
            # A forked child must not share its parent's sockets.
            self._idle, self._pid = [], os.getpid()
        command = ("EVALSHA", self._script.sha, len(keys), *keys, *args)
        reused = bool(self._idle)
        conn = self._idle.pop() if reused else self._factory(**self._kwargs)
        try:
            answer = self._run(conn, command)
        except redis.ConnectionError:
            conn.disconnect()
            if not reused:
                raise
            # Most likely a socket that died while idle: one fresh connection, one more try.
            conn = self._factory(**self._kwargs)
            try:
                answer = self._run(conn, command)
            except BaseException:
                conn.disconnect()
                raise
        except BaseException:
            conn.disconnect()
            raise
        self._idle.append(conn)
        return answer

    def _run(self, conn: redis.Connection, command: tuple[Any, ...]) -> Any:
        try:
            return _round_trip(conn, command)
        except NoScriptError:
            # Redis restarted or SCRIPT FLUSH: load it again, then run it once.
            self._script.registered_client.script_load(self._script.script)
            return _round_trip(conn, command)


def _round_trip(conn: redis.Connection, command: tuple[Any, ...]) -> Any:
    # redis-py leaves these two untyped.
    conn.send_packed_command(conn.pack_command(*command))  # type: ignore[no-untyped-call]
    return conn.read_response()
