"""A fake Infobip SMS API on 127.0.0.1, so sms.providers.infobip runs end to end.

`POST /sms/2/text/advanced` with `Authorization: App <key>` and `{messages: [{destinations:
[{to}], from, text, notifyUrl, notifyContentType}]}` -> 200 `{bulkId, messages: [{to,
messageId, status{groupId, groupName, id, name, description}}]}`; a wrong key -> 401
`requestError.serviceException`. It builds the JSON Infobip posts: delivery reports
(`results[].status.groupName`) and inbound messages (MO_JSON_2).

    python -m fakes.infobip --port 8095
    SMS_PROVIDER=infobip INFOBIP_BASE_URL=http://127.0.0.1:8095 make run
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Final

from fakes.scripted import QuietHandler, Received, ScriptedFake

# Statuses (../shared/PROVIDERS.md §6; infobip.com message status codes): name -> fields.
STATUSES: Final = {
    "PENDING_ACCEPTED": (1, "PENDING", 26, "Message sent to next instance"),
    "DELIVERED_TO_HANDSET": (3, "DELIVERED", 5, "Message delivered to handset"),
    "UNDELIVERABLE_NOT_DELIVERED": (2, "UNDELIVERABLE", 9, "Message sent not delivered"),
    "EXPIRED_EXPIRED": (4, "EXPIRED", 15, "Message expired"),
    "REJECTED_DESTINATION": (5, "REJECTED", 51, "Destination rejected"),
    "REJECTED_NOT_ENOUGH_CREDITS": (5, "REJECTED", 12, "Not enough credits"),
}


def status(name: str) -> dict[str, Any]:
    """Return Infobip's status object for `name`."""
    group_id, group, status_id, description = STATUSES[name]
    return {
        "groupId": group_id,
        "groupName": group,
        "id": status_id,
        "name": name,
        "description": description,
    }


class FakeInfobip(ScriptedFake):
    """The fake API; `per_number` behaviours name a status (REJECTED_DESTINATION...)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, api_key: str = "fake-infobip-key"
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self._listen(_handler_for(self), port, host)

    @staticmethod
    def report(message_id: str, to: str, name: str) -> dict[str, Any]:
        """Return the delivery report body Infobip posts to a message's notifyUrl."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        failed = not name.startswith(("DELIVERED", "PENDING"))
        return {
            "results": [
                {
                    "bulkId": uuid.uuid4().hex,
                    "messageId": message_id,
                    "to": to.lstrip("+"),
                    "sentAt": now,
                    "doneAt": now,
                    "smsCount": 1,
                    "price": {"pricePerMessage": 0.01, "currency": "EUR"},
                    "status": status(name),
                    "error": {
                        "groupId": 1 if failed else 0,
                        "groupName": "HANDSET_ERRORS" if failed else "OK",
                        "id": 27 if failed else 0,
                        "name": "EC_ABSENT_SUBSCRIBER" if failed else "NO_ERROR",
                        "description": "Absent Subscriber" if failed else "No Error",
                        "permanent": False,
                    },
                }
            ]
        }

    @staticmethod
    def inbound(sender: str, text: str, to: str = "243800000000") -> dict[str, Any]:
        """Return the body Infobip posts (MO_JSON_2) for one inbound SMS."""
        keyword, _, rest = text.partition(" ")
        return {
            "results": [
                {
                    "messageId": uuid.uuid4().hex,
                    "from": sender.lstrip("+"),
                    "to": to,
                    "text": text,
                    "cleanText": rest,
                    "keyword": keyword.upper(),
                    "receivedAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "smsCount": 1,
                    "price": {"pricePerMessage": 0, "currency": "EUR"},
                    "callbackData": None,
                }
            ],
            "messageCount": 1,
            "pendingMessageCount": 0,
        }


def _handler_for(fake: FakeInfobip) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.body().decode()
            if self.path != "/sms/2/text/advanced":
                self.answer(
                    404,
                    {
                        "requestError": {
                            "serviceException": {"messageId": "NOT_FOUND", "text": "Not found"}
                        }
                    },
                )
                return
            if self.headers.get("Authorization") != f"App {fake.api_key}":
                self.answer(
                    401,
                    {
                        "requestError": {
                            "serviceException": {
                                "messageId": "UNAUTHORIZED",
                                "text": "Invalid login details",
                            }
                        }
                    },
                )
                return
            body = json.loads(raw or "{}")
            behaviour = fake.next_behaviour()
            answers = []
            for message in body.get("messages", []):
                numbers = tuple("+" + d["to"] for d in message.get("destinations", []))
                ids = tuple(uuid.uuid4().hex for _ in numbers)
                for number, message_id in zip(numbers, ids, strict=True):
                    name = behaviour.per_number.get(number, "PENDING_ACCEPTED")
                    answers.append(
                        {"to": number.lstrip("+"), "status": status(name), "messageId": message_id}
                    )
                fake.record(Received(numbers, str(message.get("text", "")), ids, body))
            if behaviour.delay_seconds:
                time.sleep(behaviour.delay_seconds)
            if behaviour.http_status:
                self.answer(
                    behaviour.http_status,
                    {
                        "requestError": {
                            "serviceException": {
                                "messageId": "GENERAL_ERROR",
                                "text": "Something went wrong",
                            }
                        }
                    },
                )
                return
            self.answer(200, {"bulkId": uuid.uuid4().hex, "messages": answers})

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the fake Infobip SMS API until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m fakes.infobip", description=__doc__)
    parser.add_argument("--port", type=int, default=8095)
    args = parser.parse_args(argv)
    fake = FakeInfobip(port=args.port)
    return fake.serve_until_interrupted("fake Infobip API (INFOBIP_BASE_URL)")


if __name__ == "__main__":
    raise SystemExit(main())
