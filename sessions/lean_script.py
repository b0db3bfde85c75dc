"""Run a Lua script with EVALSHA straight on a held socket: the hop path's Redis call.

redis-py's `Script.__call__` goes through `execute_command`: a pool checkout that polls the
socket for stray data, the Retry wrapper, response callbacks, command parsing hooks, and its
packer checks every argument's type twice. On a 2-vCPU VM that doubled the CPU of a round trip,
and a hop makes two. `LeanScript` keeps idle connections of its own (one per concurrent caller:
thread or greenlet). redis-py still opens and greets each one (AUTH, SELECT, HELLO, timeouts,
TLS: the client's settings); from then on the call is one `sendall` of hiredis-packed EVALSHA
and hiredis reading the reply off the socket. Behaviour stays redis-py's: a timeout raises
`redis.TimeoutError`, a broken socket `redis.ConnectionError` (one that broke while idle, e.g.
Redis restarted, is replaced and the call tried once more), an error reply the same typed
exception redis-py would raise, and NOSCRIPT loads the script again.

redis-py has no public accessor for either thing this needs (the connected socket, the typed
exception of an error reply); both private reads sit in the boundary at the end of this module,
checked against one redis-py version and tested (tests/sessions/test_lean_script.py). The gain
that pays for them, measured in bench/README.md: ~10 µs of the ~50 µs of Python per hop, about
4 % of hop throughput. Should redis-py change them, `LeanScript` takes redis-py's public path.
So does any client but one plain server: on Sentinel and Cluster the public path is the one
that follows the master or the slot (see `LeanScript.__init__`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any, Final

import hiredis
import redis
from redis._parsers import BaseParser  # private: see the boundary at the end
from redis.commands.core import Script
from redis.exceptions import InvalidResponse, NoScriptError, ResponseError

log = logging.getLogger(__name__)

_READ_SIZE: Final = 16 * 1024


class LeanScript:
    """A registered Lua script called as `script(keys=[...], args=[...])`."""

    def __init__(self, client: redis.Redis, source: str) -> None:
        self._script: Script = client.register_script(source)
        # Anything but a plain socket client to one server takes redis-py's path: fakeredis,
        # a cluster (MOVED; it has no single pool), a Sentinel pool (its connections find the
        # master and turn the old master's READONLY after a failover into a reconnect; our
        # lanes would keep theirs).
        plain = type(client) is redis.Redis and type(client.connection_pool) is redis.ConnectionPool
        pool = client.connection_pool if plain else redis.ConnectionPool()
        self._lean = (
            plain and issubclass(pool.connection_class, redis.Connection) and internals_fit()
        )
        self._factory = pool.connection_class
        self._kwargs = pool.connection_kwargs
        self._idle: list[_Lane] = []
        self._pid = os.getpid()

    def __call__(self, keys: Sequence[str], args: Sequence[str | int | bytes]) -> Any:
        """Run the script; raise a redis error like redis-py would."""
        if not self._lean:
            return self._script(keys=keys, args=args)
        if self._pid != os.getpid():
            # A forked child must not share its parent's sockets.
            self._idle, self._pid = [], os.getpid()
        command = ("EVALSHA", self._script.sha, len(keys), *keys, *args)
        packed = hiredis.pack_command(command)  # type: ignore[arg-type]  # stub: a 1-tuple
        reused = bool(self._idle)
        lane = self._idle.pop() if reused else _Lane(self._factory(**self._kwargs))
        try:
            answer = self._run(lane, packed)
        except redis.ConnectionError:
            lane.close()
            if not reused:
                raise
            # Most likely a socket that died while idle: one fresh connection, one more try.
            lane = _Lane(self._factory(**self._kwargs))
            try:
                answer = self._run(lane, packed)
            except BaseException:
                lane.close()
                raise
        except BaseException:
            # A timeout or an interrupt leaves a reply in flight: that socket is never reused.
            lane.close()
            raise
        self._idle.append(lane)
        return answer

    def _run(self, lane: _Lane, packed: bytes) -> Any:
        try:
            return lane.round_trip(packed)
        except NoScriptError:
            # Redis restarted or SCRIPT FLUSH: load it again, then run it once.
            self._script.registered_client.script_load(self._script.script)
            return lane.round_trip(packed)


class _Lane:
    """One connection redis-py opened and greeted; we speak RESP on its socket ourselves."""

    __slots__ = ("_buffer", "_conn", "_reader", "_sock")

    def __init__(self, conn: redis.Connection) -> None:
        self._conn = conn
        conn.connect()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        sock = connected_socket(conn)
        if sock is None:
            raise redis.ConnectionError("redis-py connected without a socket")
        self._sock = sock
        self._reader = hiredis.Reader(protocolError=InvalidResponse, replyError=ResponseError)
        self._buffer = bytearray(_READ_SIZE)

    def round_trip(self, packed: bytes) -> Any:
        """Send one packed command and return its reply (an error reply is raised)."""
        reader, sock, buffer = self._reader, self._sock, self._buffer
        try:
            sock.sendall(packed)
            answer = reader.gets()
            while answer is False:
                size = sock.recv_into(buffer)
                if not size:
                    raise redis.ConnectionError("Connection closed by server.")
                reader.feed(buffer, 0, size)  # type: ignore[arg-type]  # any buffer
                answer = reader.gets()
        except TimeoutError:  # socket.timeout, the client's socket_timeout
            raise redis.TimeoutError("Timeout reading from socket") from None
        except OSError as error:
            raise redis.ConnectionError(f"Error while talking to Redis: {error}") from None
        if isinstance(answer, ResponseError):
            # The typed exception redis-py raises for the same reply (NoScriptError, ...).
            raise typed_error(str(answer))
        return answer

    def exchange(self, packed: bytes, count: int) -> list[Any]:
        """Send pipelined commands, return their `count` replies (error replies as values)."""
        reader, sock, buffer = self._reader, self._sock, self._buffer
        replies: list[Any] = []
        try:
            sock.sendall(packed)
            while len(replies) < count:
                answer = reader.gets()
                if answer is False:
                    size = sock.recv_into(buffer)
                    if not size:
                        raise redis.ConnectionError("Connection closed by server.")
                    reader.feed(buffer, 0, size)  # type: ignore[arg-type]  # any buffer
                    continue
                replies.append(typed_error(str(answer)) if _is_error(answer) else answer)
        except TimeoutError:
            raise redis.TimeoutError("Timeout reading from socket") from None
        except OSError as error:
            raise redis.ConnectionError(f"Error while talking to Redis: {error}") from None
        return replies

    def close(self) -> None:
        """Close the socket; this lane is never used again."""
        self._conn.disconnect()  # type: ignore[no-untyped-call]

    def __del__(self) -> None:
        # redis-py's connection sits in reference cycles, so the collector may reach its
        # socket before the connection's own finaliser: close it while the lane goes.
        with contextlib.suppress(Exception):
            self._conn.disconnect()  # type: ignore[no-untyped-call]


class _PublicLane:
    """A pool connection spoken to through redis-py's public Connection methods (Sentinel...)."""

    __slots__ = ("_conn", "_pool")

    def __init__(self, pool: redis.ConnectionPool) -> None:
        self._pool = pool
        self._conn = pool.get_connection()

    def exchange(self, packed: bytes, count: int) -> list[Any]:
        """Send pipelined commands, return their `count` replies (error replies as values)."""
        conn = self._conn
        conn.send_packed_command([packed])  # type: ignore[no-untyped-call]  # untyped upstream
        replies: list[Any] = []
        for _ in range(count):
            try:
                replies.append(conn.read_response(disable_decoding=True))
            except ResponseError as error:
                replies.append(error)
        return replies

    def close(self) -> None:
        """Drop the connection (a reply may be in flight) and hand it back to its pool."""
        self._conn.disconnect()  # type: ignore[no-untyped-call]
        self._pool.release(self._conn)

    def reuse(self) -> None:
        """Hand a connection with nothing in flight back to its pool."""
        self._pool.release(self._conn)


class Lanes:
    """Connections held one hop at a time for pipelined commands (WATCH/MULTI/EXEC on one).

    Same rules as `LeanScript`: a plain client gets lean lanes (hiredis on the socket redis-py
    opened and greeted), anything else (Sentinel; a redis-py whose internals changed) lanes over
    redis-py's public `Connection` API from the client's own pool. A lane that raised is closed,
    never reused: a reply may still be in flight on it.
    """

    def __init__(self, client: redis.Redis) -> None:
        pool = client.connection_pool
        self._pool = pool
        self._lean = (
            type(client) is redis.Redis
            and type(pool) is redis.ConnectionPool
            and issubclass(pool.connection_class, redis.Connection)
            and internals_fit()
        )
        self._idle: list[Any] = []
        self._pid = os.getpid()

    def take(self) -> tuple[Any, bool]:
        """Return an idle lane (True: it was idle, so it may have died meanwhile) or a new one."""
        if self._pid != os.getpid():
            # A forked child must not share its parent's sockets.
            self._idle, self._pid = [], os.getpid()
        if self._idle:
            return self._idle.pop(), True
        return self.new(), False

    def new(self) -> Any:
        """Open a fresh lane."""
        if self._lean:
            return _Lane(self._pool.connection_class(**self._pool.connection_kwargs))
        return _PublicLane(self._pool)

    def give(self, lane: Any) -> None:
        """Take back a lane with nothing in flight and no WATCH outstanding."""
        if isinstance(lane, _PublicLane):
            lane.reuse()
        elif self._pid == os.getpid():
            self._idle.append(lane)


def pack(commands: Sequence[Sequence[str | int | bytes]]) -> bytes:
    """Pack pipelined commands as one buffer (hiredis)."""
    return b"".join(hiredis.pack_command(tuple(command)) for command in commands)  # type: ignore[arg-type]


def _is_error(answer: Any) -> bool:
    return isinstance(answer, ResponseError)


# The boundary with redis-py's internals: the only private names this module reads.
CHECKED_REDIS_PY: Final = "8.1.0"


def connected_socket(conn: redis.Connection) -> socket.socket | None:
    """Return the socket redis-py connected for `conn` (private `_sock`, redis-py 8.1.0)."""
    sock = getattr(conn, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def typed_error(message: str) -> redis.RedisError:
    """Return what redis-py raises for error reply `message` (private `redis._parsers`, 8.1.0)."""
    error: redis.RedisError = BaseParser.parse_error(message)  # type: ignore[no-untyped-call]
    return error


@functools.cache
def internals_fit() -> bool:
    """Say whether this redis-py still has the internals above (else: redis-py's public path)."""
    try:
        probe = redis.Connection()  # type: ignore[no-untyped-call]  # not connected: no I/O
        fits = hasattr(probe, "_sock") and isinstance(typed_error("NOSCRIPT x"), NoScriptError)
    except Exception:
        fits = False
    if not fits:
        log.warning(
            "redis-py %s changed the internals LeanScript reads (checked on %s): using Script",
            redis.__version__,
            CHECKED_REDIS_PY,
        )
    return fits
