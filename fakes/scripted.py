"""What the fake SMS APIs (Twilio, Orange SMS, Infobip) share: a script of behaviours for the
next calls, a record of what arrived, and a JSON request handler that stays quiet."""

from __future__ import annotations

import contextlib
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from fakes.server import LocalServer


@dataclass(frozen=True, slots=True)
class Behaviour:
    """What the next send answers: a refusal per number, an HTTP error, a stall."""

    per_number: dict[str, str] = field(default_factory=dict)  # number -> provider error
    http_status: int = 0  # 0: the normal answer; else this status, whatever the numbers
    delay_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Received:
    """One send the fake got: the numbers, the text, the provider's ids, the raw body."""

    numbers: tuple[str, ...]
    text: str
    message_ids: tuple[str, ...]
    body: dict[str, Any]


class ScriptedFake(LocalServer):
    """A fake API's programmable state: `script(...)`, `default`, `received`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[Behaviour] = deque()
        self.default = Behaviour()
        self.received: list[Received] = []

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next sends; then the default applies again."""
        with self._lock:
            self._script.extend(behaviours)

    def next_behaviour(self) -> Behaviour:
        """Pop the next scripted behaviour, or the default."""
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def record(self, received: Received) -> None:
        """Remember one send."""
        with self._lock:
            self.received.append(received)

    def sent_to(self, number: str) -> list[Received]:
        """Return the sends that named `number`."""
        with self._lock:
            return [r for r in self.received if number in r.numbers]

    def reset(self) -> None:
        """Forget the script and what was received (a fake shared by several tests)."""
        with self._lock:
            self._script.clear()
            self.received.clear()
            self.default = Behaviour()


class QuietHandler(BaseHTTPRequestHandler):
    """Answers JSON over HTTP/1.1 without logging (tests and the dev runner have their own)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in two writes: no delayed-ACK wait

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def body(self) -> bytes:
        """Read the request body."""
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
        """Send `body` (JSON unless it is already text)."""
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
            self.wfile.write(data)
