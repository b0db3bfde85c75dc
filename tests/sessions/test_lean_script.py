"""LeanScript: EVALSHA on its own sockets, behaving like redis-py on every failure."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator

import hiredis
import pytest
import redis

from sessions.lean_script import (
    CHECKED_REDIS_PY,
    LeanScript,
    connected_socket,
    internals_fit,
    typed_error,
)


def unique(source: str) -> str:
    # A script Redis has never seen: its first EVALSHA gets NOSCRIPT.
    return f"-- {uuid.uuid4().hex}\n{source}"


@pytest.fixture
def named_client(redis_url: str) -> Iterator[redis.Redis]:
    name = f"lean-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(redis_url, client_name=name, socket_timeout=2)
    yield client
    client.close()


def lane_ids(admin: redis.Redis, lanes: redis.Redis) -> list[str]:
    name = lanes.connection_pool.connection_kwargs["client_name"]
    # The client's own pool connection (it loaded the script) last ran SCRIPT LOAD.
    return [
        str(c["id"])
        for c in admin.client_list()
        if c.get("name") == name and c.get("cmd") == "evalsha"
    ]


def test_a_script_redis_never_saw_is_loaded_and_answers(redis_client: redis.Redis) -> None:
    script = LeanScript(redis_client, unique("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}"))
    assert script(keys=["k"], args=["v", 41]) == [b"k", b"v", 42]
    assert script(keys=["k"], args=[b"\xff\x00", 0]) == [b"k", b"\xff\x00", 1]


def test_error_replies_raise_redis_py_s_typed_errors(redis_client: redis.Redis) -> None:
    script = LeanScript(redis_client, unique("return redis.error_reply('WRONGTYPE not a list')"))
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        script(keys=[], args=[])
    # The connection is still good after an error reply.
    assert LeanScript(redis_client, "return 7")(keys=[], args=[]) == 7


def test_a_connection_killed_while_idle_is_replaced_and_the_call_retried(
    named_client: redis.Redis, redis_client: redis.Redis
) -> None:
    script = LeanScript(named_client, unique("return ARGV[1]"))
    assert script(keys=[], args=["one"]) == b"one"
    before = lane_ids(redis_client, named_client)
    assert len(before) == 1, "one lane, connected under the client's name"
    redis_client.client_kill_filter(_id=before[0])
    assert script(keys=[], args=["two"]) == b"two"
    after = lane_ids(redis_client, named_client)
    assert len(after) == 1 and after != before


class SilentRedis:
    """Answers redis-py's handshake with +OK, then never answers EVALSHA."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.evalsha = threading.Event()
        self.accepted = 0
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        reader = hiredis.Reader()
        with conn:
            while data := conn.recv(65536):
                reader.feed(data)
                while (command := reader.gets()) is not False:
                    name = command[0].upper()
                    if name == b"EVALSHA":
                        self.evalsha.set()
                        continue  # silence: the caller must time out
                    if name == b"HELLO":  # redis-py's RESP3 handshake wants a map
                        conn.sendall(b"%%1\r\n+proto\r\n:%s\r\n" % command[1])
                        continue
                    conn.sendall(b"+OK\r\n")

    def close(self) -> None:
        self.listener.close()


def test_a_silent_redis_raises_redis_py_s_timeout_not_a_hang() -> None:
    silent = SilentRedis()
    try:
        client = redis.Redis(host="127.0.0.1", port=silent.port, socket_timeout=0.2)
        script = LeanScript(client, "return 1")
        with pytest.raises(redis.TimeoutError):
            script(keys=[], args=[])
        assert silent.evalsha.is_set()
        # The timed-out socket is dropped, never reused with a reply still in flight.
        with pytest.raises(redis.TimeoutError):
            script(keys=[], args=[])
        assert silent.accepted == 2
    finally:
        silent.close()


def test_a_refused_connection_is_redis_py_s_connection_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    with pytest.raises(redis.ConnectionError):
        LeanScript(client, "return 1")(keys=[], args=[])


def test_the_redis_py_internals_it_reads_are_the_ones_checked(redis_url: str) -> None:
    # On a redis-py upgrade: re-check the boundary in sessions/lean_script.py, then bump this.
    assert redis.__version__ == CHECKED_REDIS_PY, "re-check LeanScript's redis-py boundary"
    assert internals_fit()
    conn = redis.Redis.from_url(redis_url).connection_pool.make_connection()
    conn.connect()  # type: ignore[no-untyped-call]
    try:
        sock = connected_socket(conn)
        assert sock is not None
        # The very socket redis-py talks on: a command it sends is answered on ours.
        conn.send_command("PING")
        assert sock.recv(64) == b"+PONG\r\n"
    finally:
        conn.disconnect()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("NOSCRIPT No matching script", redis.exceptions.NoScriptError),
        ("READONLY You can't write against a read only replica.", redis.ReadOnlyError),
        ("LOADING Redis is loading the dataset in memory", redis.BusyLoadingError),
        ("OOM command not allowed", redis.OutOfMemoryError),
        ("WRONGTYPE Operation against a key", redis.ResponseError),
    ],
)
def test_error_replies_map_to_redis_py_s_exceptions(
    reply: str, expected: type[redis.RedisError]
) -> None:
    error = typed_error(reply)
    assert type(error) is expected
    assert reply.split(" ", 1)[1] in str(error)
