"""A fake Africa's Talking SMS API on 127.0.0.1, so the real SDK code path runs end to end.

Same path (`POST /version1/messaging`), same form fields (username, to, message, from,
bulkSMSMode, enqueue), same JSON shape (`SMSMessageData.Recipients[]`) and the exact
`Content-Type: application/json` the SDK insists on. Programmable: queue behaviours with
`script(...)` (in-process) or `POST /_fake/script` (JSON list); `GET /_fake/requests` lists
what was received. It can POST delivery reports to our /sms/africastalking/delivery.

    python -m fakes.africastalking --port 8090
    SMS_PROVIDER=africastalking AT_API_BASE_URL=http://127.0.0.1:8090 make run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Final

from fakes.server import LocalServer

STATUS_NAMES: Final = {
    100: "Processed",
    101: "Success",
    102: "Queued",
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}


@dataclass(frozen=True, slots=True)
class Behaviour:
    """What the next call answers: a status per recipient, an HTTP error or a stall."""

    status_code: int = 101  # per-recipient statusCode
    per_number: dict[str, int] = field(default_factory=dict)  # overrides by number
    http_status: int = 201  # anything but 201 answers a plain-text error page
    delay_seconds: float = 0.0  # sleep before answering (timeouts)
    content_type: str = "application/json"

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Behaviour:
        """Build from the control endpoint's JSON."""
        return cls(
            status_code=int(raw.get("status_code", 101)),
            per_number={str(k): int(v) for k, v in (raw.get("per_number") or {}).items()},
            http_status=int(raw.get("http_status", 201)),
            delay_seconds=float(raw.get("delay_seconds", 0)),
            content_type=str(raw.get("content_type", "application/json")),
        )


@dataclass(frozen=True, slots=True)
class Received:
    """One request the fake got."""

    form: dict[str, str]
    api_key: str
    message_ids: tuple[str, ...]
    client_port: int = 0  # the caller's port: one value for calls on one kept connection
    received_at: float = field(default_factory=time.time)  # epoch seconds (bench latencies)


class FakeAfricasTalking(LocalServer):
    """The fake API: a threaded HTTP server and its programmable state."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str = "") -> None:
        self.expected_api_key = api_key
        self._lock = threading.Lock()
        self._script: deque[Behaviour] = deque()
        self.default = Behaviour()
        self.received: list[Received] = []
        self._listen(_handler_for(self), port, host)

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next calls; then the default applies again."""
        with self._lock:
            self._script.extend(behaviours)

    def next_behaviour(self) -> Behaviour:
        """Pop the next scripted behaviour, or the default."""
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def reset(self) -> None:
        """Forget the script and what was received (a fake shared by several tests)."""
        with self._lock:
            self._script.clear()
            self.received.clear()
            self.default = Behaviour()

    def record(self, received: Received) -> None:
        """Remember one request."""
        with self._lock:
            self.received.append(received)

    def sent_to(self, number: str) -> list[Received]:
        """Return the requests that named `number` as a recipient."""
        with self._lock:
            return [r for r in self.received if number in r.form.get("to", "").split(",")]

    @staticmethod
    def post_delivery_report(
        callback_url: str,
        message_id: str,
        status: str,
        *,
        phone: str = "",
        failure_reason: str = "",
        retry_count: int = 0,
        network_code: str = "63001",
    ) -> int:
        """POST one delivery report the way AT does (form-encoded); return the HTTP status."""
        form = urllib.parse.urlencode(
            {
                "id": message_id,
                "status": status,
                "phoneNumber": phone,
                "networkCode": network_code,
                "failureReason": failure_reason,
                "retryCount": str(retry_count),
            }
        ).encode()
        request = urllib.request.Request(callback_url, data=form, method="POST")  # noqa: S310
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our URL
            return int(response.status)


def _handler_for(fake: FakeAfricasTalking) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY a keep-alive client waits
        # for its delayed ACK (~40 ms) before the body arrives.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: tests and the dev runner have their own output."""

        def do_GET(self) -> None:
            if self.path == "/_fake/requests":
                body = [{"form": r.form, "message_ids": r.message_ids} for r in fake.received]
                self._answer(200, json.dumps(body))
            else:
                self._answer(404, "Not found", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            if self.path == "/_fake/script":
                fake.script(*(Behaviour.from_json(item) for item in json.loads(raw or "[]")))
                self._answer(200, "{}")
                return
            if self.path != "/version1/messaging":
                self._answer(404, "Not found", "text/plain")
                return
            form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
            api_key = self.headers.get("apiKey", "")
            if fake.expected_api_key and api_key != fake.expected_api_key:
                fake.record(Received(form, api_key, ()))
                self._answer(401, "The supplied authentication is invalid", "text/plain")
                return
            behaviour = fake.next_behaviour()
            numbers = [n for n in form.get("to", "").split(",") if n]
            recipients = [
                _recipient(n, behaviour.per_number.get(n, behaviour.status_code)) for n in numbers
            ]
            # Recorded on arrival: a client that times out has still reached "AT".
            ids = tuple(r["messageId"] for r in recipients)
            fake.record(Received(form, api_key, ids, int(self.client_address[1])))
            if behaviour.delay_seconds:
                time.sleep(behaviour.delay_seconds)
            if behaviour.http_status != 201:
                self._answer(behaviour.http_status, "Internal Server Error", "text/plain")
                return
            accepted = sum(1 for r in recipients if r["statusCode"] in (100, 101, 102))
            body = {
                "SMSMessageData": {
                    "Message": f"Sent to {accepted}/{len(recipients)} Total Cost: KES 0.8000",
                    "Recipients": recipients,
                }
            }
            self._answer(201, json.dumps(body), behaviour.content_type)

        def _answer(self, status: int, body: str, content_type: str = "application/json") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
                self.wfile.write(data)

    return Handler


def _recipient(number: str, status_code: int) -> dict[str, Any]:
    accepted = status_code in (100, 101, 102)
    return {
        "statusCode": status_code,
        "number": number,
        "status": STATUS_NAMES.get(status_code, "Failed"),
        "cost": "KES 0.8000" if accepted else "0",
        "messageId": f"ATXid_{uuid.uuid4().hex}" if accepted else "None",
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the fake Africa's Talking SMS API until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m fakes.africastalking", description=__doc__)
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--api-key", default="", help="refuse other keys (401)")
    args = parser.parse_args(argv)
    fake = FakeAfricasTalking(port=args.port, api_key=args.api_key)
    return fake.serve_until_interrupted("fake Africa's Talking API (AT_API_BASE_URL)")


if __name__ == "__main__":
    raise SystemExit(main())
