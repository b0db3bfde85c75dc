"""`python -m gateway dial` driven from stdin against a real gateway on 127.0.0.1."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

import runtime
from gateway.cli.dial import PROTOCOLS, Screen, UssdSession, draw, talk
from menus.model import MenuSpec

ROOT = __file__.rsplit("/tests/", 1)[0]


@pytest.fixture
def gateway_url(app: Flask) -> Iterator[str]:
    """Serve the app on a free 127.0.0.1 port for the length of the test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/ussd/africastalking"
    server.shutdown()
    thread.join()


def dial(url: str, keys: str, phone: str = "+243810000001") -> subprocess.CompletedProcess[str]:
    """Run the terminal phone with `keys` on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", "dial", "*384*12#", "--phone", phone, "--url", url],
        input=keys,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def option(spec: MenuSpec, screen: str, *, next_: str = "", value: str = "") -> str:
    return next(
        o.key
        for o in spec.screens[screen].options
        if (next_ and o.next == next_) or (value and o.value == value)
    )


def test_a_journey_typed_on_stdin_walks_the_menus(app: Flask, gateway_url: str) -> None:
    spec = runtime.current().get(MenuSpec)
    language = option(spec, "main", next_="language")
    english = option(spec, "language", value="en")
    help_key = option(spec, "main", next_="help")
    result = dial(gateway_url, f"{language}\n{english}\n{help_key}\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # Three answers were accumulated as "9", "9*2", "9*2*8": the switch to English and the
    # English help END prove the gateway read each hop's latest input.
    language_title = spec.screens["language"].text
    assert language_title is not None
    assert language_title.render("fr", {}) in out
    help_en = spec.screens["help"].text
    assert help_en is not None
    first_words = help_en.render("en", spec.builtin_values()).split(":")[0]
    assert first_words in out
    assert out.count("┌") == 4  # four screens drawn
    assert "END " in out
    assert f"> {language}\n" in out  # non-interactive input is echoed for a readable transcript


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_each_protocol_walks_the_same_journey(app: Flask, gateway_url: str, protocol: str) -> None:
    # In-process (talk() is what the command runs): one subprocess per protocol is not worth it.
    spec = runtime.current().get(MenuSpec)
    keys = f"{option(spec, 'main', next_='language')}\n{option(spec, 'language', value='en')}\n"
    keys += f"{option(spec, 'main', next_='help')}\n"
    url = gateway_url.replace("/africastalking", "/" + protocol)
    out = io.StringIO()
    session = UssdSession(url, "*384*12#", "+243810000001", "63902", protocol)
    assert talk(session, io.StringIO(keys), out, echo=True) == 0, out.getvalue()
    help_en = spec.screens["help"].text
    assert help_en is not None
    # The English help END: each hop's answer was read, whatever the wire format.
    assert help_en.render("en", spec.builtin_values()).split(":")[0] in out.getvalue()
    drawn = out.getvalue()
    assert (drawn.count("| CON "), drawn.count("| END ")) == (3, 1)  # four screens, one END


def test_a_reply_in_another_protocol_is_a_connection_problem(gateway_url: str) -> None:
    # Hubtel's wire format sent to the Nalo URL: refused there, said plainly.
    session = UssdSession(
        gateway_url.replace("africastalking", "nalo"), "*384*12#", "+243810000001", "1", "hubtel"
    )
    out = io.StringIO()
    assert talk(session, io.StringIO(""), out, echo=True) == 1
    assert "connection problem: the gateway answered HTTP 400" in out.getvalue()


def test_ctrl_d_hangs_up(gateway_url: str) -> None:
    result = dial(gateway_url, "")
    assert result.returncode == 0
    assert result.stdout.rstrip().endswith("(hung up)")
    assert result.stdout.count("CON ") == 1


def test_no_gateway_is_a_connection_problem() -> None:
    result = dial("http://127.0.0.1:9/ussd/africastalking", "")
    assert result.returncode == 1
    assert "connection problem: cannot reach" in result.stdout


def test_a_screen_is_framed_with_its_cost() -> None:
    drawn = draw(Screen(end=False, body="Guichet Goma\n8. Aide\n9. Langue"))
    lines = drawn.splitlines()
    assert lines[1] == "│ " + "Guichet Goma".ljust(32) + " │"
    assert "CON 30/182 GSM-7" in lines[-2]
    assert len({len(line) for line in lines}) == 1  # a straight box
    ucs2 = draw(Screen(end=True, body="Reçu ê"), unicode_box=False)
    assert "END 6/80 UCS-2" in ucs2
    assert ucs2.splitlines()[0].startswith("+-")
