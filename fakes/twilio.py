"""A fake Twilio Messages API on 127.0.0.1, so the official `twilio` package runs end to end.

`POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with Basic `AccountSid:AuthToken` and
the form the package sends (To, From | MessagingServiceSid, Body, StatusCallback); answers 201
with the Message resource (`sid` SM…, `status` queued), or Twilio's error JSON (`code`,
`message`, `more_info`, `status`). It signs webhooks as Twilio does (`X-Twilio-Signature`,
HMAC-SHA1 of the URL and the sorted form, keyed by the auth token) for the status callback
URL each message named, and for inbound messages.

    python -m fakes.twilio --port 8093 --account-sid ACfake --auth-token fake-token
    SMS_PROVIDER=twilio TWILIO_API_BASE_URL=http://127.0.0.1:8093 make run
"""

from __future__ import annotations

import argparse
import base64
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Final

from twilio.request_validator import RequestValidator

from fakes.scripted import QuietHandler, Received, ScriptedFake

# Errors of the create call (www.twilio.com/docs/api/errors) the fake can be told to give.
ERRORS: Final = {
    "21211": (400, "The 'To' number is not a valid phone number."),
    "21614": (400, "The 'To' number is not a valid mobile number."),
    "21610": (400, "Attempt to send to unsubscribed recipient"),
    "20429": (429, "Too Many Requests"),
    "20003": (401, "Authenticate"),
}


class FakeTwilio(ScriptedFake):
    """The fake API and what it remembers: each message's StatusCallback URL."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        account_sid: str = "ACfake",
        auth_token: str = "fake-twilio-token",  # noqa: S107 - the fake's own
    ) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.status_callbacks: dict[str, str] = {}  # message sid -> its StatusCallback
        self._listen(_handler_for(self), port, host)

    def sign(self, url: str, form: dict[str, str]) -> dict[str, str]:
        """Return the headers Twilio would send with `form` POSTed to `url`."""
        signature = RequestValidator(self.auth_token).compute_signature(url, form)
        return {"X-Twilio-Signature": signature}

    def status_callback(
        self, sid: str, status: str, *, to: str = "", error_code: str = ""
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        """Return (url, form, headers) of the status callback Twilio posts for `sid`."""
        form = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            "To": to,
            "From": "+15005550006",
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            form["ErrorCode"] = error_code
        url = self.status_callbacks[sid]
        return url, form, self.sign(url, form)

    def inbound(
        self, url: str, sender: str, text: str, *, to: str = "+15005550006"
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Return (form, headers) of an inbound SMS Twilio posts to the number's webhook."""
        sid = "SM" + uuid.uuid4().hex
        form = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": sender,
            "To": to,
            "Body": text,
            "NumMedia": "0",
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }
        return form, self.sign(url, form)


def _resource(fake: FakeTwilio, form: dict[str, str], sid: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    uri = f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}"
    return {
        "account_sid": fake.account_sid,
        "api_version": "2010-04-01",
        "body": form.get("Body", ""),
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "accepted" if form.get("MessagingServiceSid") else "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": form.get("To"),
        "uri": f"{uri}.json",
    }


def _error(code: str, status: int, message: str) -> dict[str, Any]:
    return {
        "code": int(code),
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _handler_for(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    path = f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            form = dict(urllib.parse.parse_qsl(self.body().decode(), keep_blank_values=True))
            if self.path != path:
                self.answer(404, _error("20404", 404, "The requested resource was not found"))
                return
            expected = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self.answer(401, _error("20003", 401, "Authenticate"))
                return
            behaviour = fake.next_behaviour()
            number = form.get("To", "")
            sid = "SM" + uuid.uuid4().hex
            code = behaviour.per_number.get(number, "")
            fake.record(Received((number,), form.get("Body", ""), () if code else (sid,), form))
            if behaviour.delay_seconds:
                time.sleep(behaviour.delay_seconds)
            if behaviour.http_status:
                status = behaviour.http_status
                self.answer(status, _error("20500", status, "Internal Server Error"))
            elif code:
                status, message = ERRORS.get(code, (400, "Error"))
                self.answer(status, _error(code, status, message))
            else:
                if form.get("StatusCallback"):
                    fake.status_callbacks[sid] = form["StatusCallback"]
                self.answer(201, _resource(fake, form, sid))

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the fake Twilio Messages API until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m fakes.twilio", description=__doc__)
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--account-sid", default="ACfake")
    parser.add_argument("--auth-token", default="fake-twilio-token")
    args = parser.parse_args(argv)
    fake = FakeTwilio(port=args.port, account_sid=args.account_sid, auth_token=args.auth_token)
    return fake.serve_until_interrupted("fake Twilio API (TWILIO_API_BASE_URL)")


if __name__ == "__main__":
    raise SystemExit(main())
