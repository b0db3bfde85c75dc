"""`python -m gateway dial`: a terminal phone speaking an aggregator's protocol over HTTP.

`--protocol africastalking` (the default): each dial is a new session id, every answer is
appended to `text` with `*` and POSTed form-encoded, exactly as the aggregator does. `hubtel`,
`nalo`, `arkesel` POST their JSON (first hop: the dial string, then the latest answer) and
`generic` sends the configurable CON/END adapter's default query (README "Aggregators"), so a
city can rehearse with its own aggregator's wire format. Lines come from the keyboard, or from
stdin when it is not a terminal (so a test or a script can drive a journey).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import uuid
from dataclasses import dataclass
from typing import Any, Final, TextIO

import requests

from runtime.packs import DEFAULT_CITY, PackError, pack
from text.encoding import cost

SCREEN_WIDTH: Final = 32  # columns of a large feature-phone screen
HTTP_TIMEOUT: Final = 15.0  # the aggregator's own patience per hop


PROTOCOLS: Final = ("africastalking", "hubtel", "nalo", "arkesel", "generic")
NALO_USERID: Final = "GUICHET"  # the application id Nalo would send


def default_url(protocol: str = "africastalking") -> str:
    """Return the local gateway's USSD callback URL for `protocol` ($PORT, 8000 by default)."""
    return f"http://127.0.0.1:{os.environ.get('PORT') or '8000'}/ussd/{protocol}"


def _demo_phone() -> str:
    # The CITY pack's demo citizen (rehearsal.yaml): dialling as them shows the demo data.
    try:
        found = pack(os.environ.get("CITY") or DEFAULT_CITY).demo_phone()
    except PackError:
        found = None
    return found or "+243810000001"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `dial` command."""
    parser = commands.add_parser("dial", help="a terminal phone for a running gateway")
    parser.add_argument("code", help="the USSD code, e.g. '*384*12#'")
    parser.add_argument(
        "--phone",
        default=_demo_phone(),
        help="caller (default: the CITY pack's demo citizen, %(default)s)",
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="africastalking",
        help="the aggregator's wire format (default %(default)s)",
    )
    parser.add_argument(
        "--url", help=f"callback URL (default {default_url('<protocol>')})", default=None
    )
    parser.add_argument("--network", default="63902", help="network code (default %(default)s)")
    parser.set_defaults(handler=handle)


@dataclass(frozen=True, slots=True)
class Screen:
    """What the gateway answered: CON (waits for input) or END (closed), and the body."""

    end: bool
    body: str


class GatewayError(RuntimeError):
    """The gateway did not answer like an Africa's Talking application must."""


class UssdSession:
    """One dialled session: a fixed session id, the answers so far, the protocol's wire format."""

    def __init__(
        self, url: str, code: str, phone: str, network: str, protocol: str = "africastalking"
    ) -> None:
        self.url = url
        self.protocol = protocol
        self.session_id = "dial-" + uuid.uuid4().hex
        self.code = code
        self.phone = phone
        self.network = network
        self.inputs: list[str] = []
        self._http = requests.Session()

    @property
    def text(self) -> str:
        """Return `text` as Africa's Talking sends it: every input joined by `*`."""
        return "*".join(self.inputs)

    def start(self) -> Screen:
        """Send the first hop (empty text, or the dial string)."""
        return self._post(None)

    def send(self, answer: str) -> Screen:
        """Type `answer` and press Send."""
        self.inputs.append(answer)
        return self._post(answer)

    def close(self) -> None:
        """Release the HTTP connection."""
        self._http.close()

    def _request(self, answer: str | None) -> dict[str, Any]:
        """Return the keyword arguments of the hop's HTTP request, in the protocol's shape."""
        first = answer is None
        latest = self.code if answer is None else answer
        number = self.phone.lstrip("+")  # the Ghanaian aggregators send numbers without +
        if self.protocol == "hubtel":
            kind = "Initiation" if first else "Response"
            hop = {"Type": kind, "SessionId": self.session_id, "Mobile": number}
            extra = {"ServiceCode": self.code, "Operator": self.network, "Platform": "USSD"}
            sequence = len(self.inputs) + 1
            return {"json": {**hop, "Message": latest, "Sequence": sequence, **extra}}
        if self.protocol == "nalo":
            hop = {"USERID": NALO_USERID, "MSISDN": number, "USERDATA": latest}
            return {"json": {**hop, "MSGTYPE": first, "NETWORK": self.network}}
        if self.protocol == "arkesel":
            hop = {"sessionID": self.session_id, "userID": NALO_USERID, "msisdn": number}
            return {"json": {**hop, "newSession": first, "userData": latest}}
        if self.protocol == "generic":
            query = {"SESSIONID": self.session_id, "USSDCODE": self.code, "MSISDN": number}
            return {"method": "GET", "params": {**query, "INPUT": self.text}}
        form = {"sessionId": self.session_id, "serviceCode": self.code, "phoneNumber": self.phone}
        return {"data": {**form, "networkCode": self.network, "text": self.text}}

    def _post(self, answer: str | None) -> Screen:
        kwargs = self._request(answer)
        method = kwargs.pop("method", "POST")
        try:
            response = self._http.request(method, self.url, timeout=HTTP_TIMEOUT, **kwargs)
        except requests.RequestException as error:
            raise GatewayError(f"cannot reach {self.url}: {type(error).__name__}") from None
        if response.status_code != 200:
            raise GatewayError(f"the gateway answered HTTP {response.status_code}")
        if self.protocol in {"africastalking", "generic"}:
            return _con_end(response.content.decode("utf-8", errors="replace"))
        return _json_screen(self.protocol, response)


def _con_end(body: str) -> Screen:
    if body.startswith("CON "):
        return Screen(end=False, body=body[4:])
    if body.startswith("END "):
        return Screen(end=True, body=body[4:])
    raise GatewayError("the gateway answered neither CON nor END")


# Where each JSON protocol puts the screen, and how it says "the session goes on".
_JSON_REPLIES: Final = {
    "hubtel": ("Message", "Type", "Response"),
    "nalo": ("MSG", "MSGTYPE", True),
    "arkesel": ("message", "continueSession", True),
}


def _json_screen(protocol: str, response: requests.Response) -> Screen:
    text_key, open_key, open_value = _JSON_REPLIES[protocol]
    try:
        reply = response.json()
        body, goes_on = reply[text_key], reply[open_key] == open_value
    except (ValueError, KeyError, TypeError):
        raise GatewayError(f"the gateway answered no {protocol} reply") from None
    if not isinstance(body, str):
        raise GatewayError(f"the gateway answered no {protocol} reply")
    return Screen(end=not goes_on, body=body)


def draw(screen: Screen, unicode_box: bool = True) -> str:
    """Return `screen` as a handset shows it: a framed, wrapped body and a status line."""
    tl, tr, bl, br, h, v, ml, mr = "┌┐└┘─│├┤" if unicode_box else "++++-|++"
    lines: list[str] = []
    for raw in screen.body.split("\n"):
        lines.extend(textwrap.wrap(raw, SCREEN_WIDTH) or [""])
    measured = cost(screen.body)
    kind = "END" if screen.end else "CON"
    status = f"{kind} {measured.units}/{measured.ussd_limit} {measured.encoding}"
    width = max(SCREEN_WIDTH, len(status))
    out = [tl + h * (width + 2) + tr]
    out += [f"{v} {line.ljust(width)} {v}" for line in lines]
    out += [ml + h * (width + 2) + mr, f"{v} {status.ljust(width)} {v}", bl + h * (width + 2) + br]
    return "\n".join(out)


def talk(session: UssdSession, keys: TextIO, out: TextIO, *, echo: bool) -> int:
    """Run the session: draw each screen, read each answer; 0 on END or hang-up, 1 on failure."""
    unicode_box = _can_draw_boxes(out)
    try:
        screen = session.start()
        while True:
            print(draw(screen, unicode_box), file=out)
            if screen.end:
                return 0
            print("> ", end="", file=out, flush=True)
            line = keys.readline()
            if line == "":  # Ctrl-D, or the script ran out of answers
                print("\n(hung up)", file=out)
                return 0
            answer = line.rstrip("\r\n")
            if echo:
                print(answer, file=out)
            screen = session.send(answer)
    except GatewayError as error:
        print(f"connection problem: {error}", file=out)
        return 1
    finally:
        session.close()


def handle(args: argparse.Namespace) -> int:
    """Dial `code` and talk until END or Ctrl-D."""
    url = args.url or default_url(args.protocol)
    session = UssdSession(url, args.code, args.phone, args.network, args.protocol)
    print(f"dialling {args.code} from {args.phone} via {url} ({args.protocol})", file=sys.stdout)
    try:
        return talk(session, sys.stdin, sys.stdout, echo=not sys.stdin.isatty())
    except KeyboardInterrupt:
        print("\n(hung up)")
        return 0
    except BrokenPipeError:
        # The reader went away (`| head`): hang up quietly, like closing the phone.
        # Point stdout at /dev/null so the flush at exit does not raise again (Python docs).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _can_draw_boxes(out: TextIO) -> bool:
    try:
        "┌─┐".encode(getattr(out, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True
