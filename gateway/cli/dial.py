"""`python -m gateway dial`: a terminal phone speaking Africa's Talking's protocol over HTTP.

Each dial is a new session id; every answer is appended to `text` with `*`, exactly as the
aggregator does, and POSTed form-encoded to a running gateway. Lines come from the keyboard,
or from stdin when it is not a terminal (so a test or a script can drive a journey).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import uuid
from dataclasses import dataclass
from typing import Final, TextIO

import requests

from runtime.packs import DEFAULT_CITY, PackError, pack
from text.encoding import cost

SCREEN_WIDTH: Final = 32  # columns of a large feature-phone screen
HTTP_TIMEOUT: Final = 15.0  # the aggregator's own patience per hop


def default_url() -> str:
    """Return the local gateway's USSD callback URL ($PORT, 8000 by default)."""
    return f"http://127.0.0.1:{os.environ.get('PORT') or '8000'}/ussd/africastalking"


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
    parser.add_argument("--url", default=default_url(), help="callback URL (default %(default)s)")
    parser.add_argument("--network", default="63902", help="networkCode (default %(default)s)")
    parser.set_defaults(handler=handle)


@dataclass(frozen=True, slots=True)
class Screen:
    """What the gateway answered: CON (waits for input) or END (closed), and the body."""

    end: bool
    body: str


class GatewayError(RuntimeError):
    """The gateway did not answer like an Africa's Talking application must."""


class UssdSession:
    """One dialled session: a fixed session id and the `*`-joined inputs so far."""

    def __init__(self, url: str, code: str, phone: str, network: str) -> None:
        self.url = url
        self.session_id = "dial-" + uuid.uuid4().hex
        self._form = {"serviceCode": code, "phoneNumber": phone, "networkCode": network}
        self.inputs: list[str] = []
        self._http = requests.Session()

    @property
    def text(self) -> str:
        """Return `text` as Africa's Talking sends it: every input joined by `*`."""
        return "*".join(self.inputs)

    def start(self) -> Screen:
        """Send the first hop (empty text)."""
        return self._post()

    def send(self, answer: str) -> Screen:
        """Type `answer` and press Send."""
        self.inputs.append(answer)
        return self._post()

    def close(self) -> None:
        """Release the HTTP connection."""
        self._http.close()

    def _post(self) -> Screen:
        form = {"sessionId": self.session_id, **self._form, "text": self.text}
        try:
            response = self._http.post(self.url, data=form, timeout=HTTP_TIMEOUT)
        except requests.RequestException as error:
            raise GatewayError(f"cannot reach {self.url}: {type(error).__name__}") from None
        body = response.content.decode("utf-8", errors="replace")
        if response.status_code != 200:
            raise GatewayError(f"the gateway answered HTTP {response.status_code}")
        if body.startswith("CON "):
            return Screen(end=False, body=body[4:])
        if body.startswith("END "):
            return Screen(end=True, body=body[4:])
        raise GatewayError("the gateway answered neither CON nor END")


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
    session = UssdSession(args.url, args.code, args.phone, args.network)
    print(f"dialling {args.code} from {args.phone} via {args.url}", file=sys.stdout)
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
