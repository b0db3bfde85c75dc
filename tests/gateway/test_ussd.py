"""POST /ussd/africastalking end to end on the shipped menus.yaml, driven like the aggregator."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask

import runtime
from gateway.app import create_app
from menus.model import MenuSpec
from tests.conftest import REDIS_DB, REDIS_HOST, REDIS_PORT, UssdPhone
from tests.gateway.tcp_proxy import TcpProxy

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def spec(app: Flask) -> MenuSpec:
    """Return the menus the app loaded (texts are data: tests read them from there)."""
    return runtime.current().get(MenuSpec)


def option_key(spec: MenuSpec, screen: str, *, next_: str | None = None, value: str = "") -> str:
    """Return the key of the option of `screen` leading to `next_` (or carrying `value`)."""
    for option in spec.screens[screen].options:
        if (next_ is not None and option.next == next_) or (value and option.value == value):
            return option.key
    raise AssertionError(f"{screen} has no such option")


def label(spec: MenuSpec, screen: str, key: str, lang: str) -> str:
    """Return the rendered label of option `key` of `screen` in `lang`."""
    option = next(o for o in spec.screens[screen].options if o.key == key)
    return option.label.render(lang, spec.builtin_values())


def title(spec: MenuSpec, screen: str, lang: str) -> str:
    """Return the rendered text of `screen` in `lang`."""
    text = spec.screens[screen].text
    assert text is not None
    return text.render(lang, spec.builtin_values())


def main_menu_lines(spec: MenuSpec, lang: str) -> list[str]:
    """Return what the main menu's first page shows in `lang`: its title and first option."""
    first = spec.screens["main"].options[0]
    return [title(spec, "main", lang), f"{first.key}. {label(spec, 'main', first.key, lang)}"]


def test_a_new_caller_gets_the_main_menu_in_french(ussd: UssdPhone, spec: MenuSpec) -> None:
    screen = ussd.dial()
    assert (screen.status, screen.kind) == (200, "CON")
    assert screen.content_type == "text/plain; charset=utf-8"
    assert spec.default_language == "fr"
    for line in main_menu_lines(spec, "fr"):
        assert line in screen.body.splitlines()


@pytest.mark.parametrize("lang", ["en", "sw", "fr"])
def test_the_main_menu_in_each_language_and_the_choice_persists(
    ussd: UssdPhone, spec: MenuSpec, lang: str
) -> None:
    ussd.dial()
    screen = ussd.type(option_key(spec, "main", next_="language"))
    assert title(spec, "language", "fr") in screen.body
    screen = ussd.type(option_key(spec, "language", value=lang))
    assert screen.kind == "CON"
    for line in main_menu_lines(spec, lang):
        assert line in screen.body.splitlines()
    # The session ends (help is an END); the next one speaks the chosen language at once.
    assert ussd.type(option_key(spec, "main", next_="help")).end
    again = ussd.dial()
    for line in main_menu_lines(spec, lang):
        assert line in again.body.splitlines()
    # Another phone still gets the default language.
    other = UssdPhone(ussd.client, phone="+243990000002").dial()
    for line in main_menu_lines(spec, "fr"):
        assert line in other.body.splitlines()


def test_a_star_typed_inside_an_input_is_one_input(ussd: UssdPhone, spec: MenuSpec) -> None:
    ussd.dial()
    ussd.type(option_key(spec, "main", next_="language"))
    english = option_key(spec, "language", value="en")
    # text is now "9**2": split("*")[-1] would read "2" (English); the real input is "*2".
    screen = ussd.type("*" + english)
    assert ussd.text.endswith("**" + english)
    assert screen.kind == "CON"
    assert spec.message("invalid_choice", "fr") in screen.body
    assert title(spec, "language", "fr") in screen.body
    screen = ussd.type(english)
    for line in main_menu_lines(spec, "en"):
        assert line in screen.body.splitlines()


def test_an_aggregator_retry_gets_the_same_reply(ussd: UssdPhone, spec: MenuSpec) -> None:
    ussd.dial()
    first = ussd.type(option_key(spec, "main", next_="language"))
    assert ussd.retry() == first


def _form(**changes: str | None) -> dict[str, str]:
    form = {
        "sessionId": "ATUid_bad1",
        "serviceCode": "*384*12#",
        "phoneNumber": "+243810000001",
        "networkCode": "63902",
        "text": "",
    }
    form.update({k: v for k, v in changes.items() if v is not None})
    return {k: v for k, v in form.items() if changes.get(k, "") is not None}


MALFORMED: list[tuple[str, bytes, str | None]] = [
    ("no fields", b"", FORM),
    ("no session id", urlencode(_form(sessionId=None)).encode(), FORM),
    ("no phone", urlencode(_form(phoneNumber=None)).encode(), FORM),
    ("no text", urlencode(_form(text=None)).encode(), FORM),
    ("no service code", urlencode(_form(serviceCode=None)).encode(), FORM),
    ("garbage phone", urlencode(_form(phoneNumber="'; DROP TABLE--")).encode(), FORM),
    ("invalid phone", urlencode(_form(phoneNumber="+2430")).encode(), FORM),
    ("json", b'{"sessionId": "x", "text": ""}', "application/json"),
    ("no content type", urlencode(_form()).encode(), None),
    ("non-UTF-8 bytes", urlencode(_form(text=None)).encode() + b"&text=1%2A%FF", FORM),
    ("raw binary", b"\x00\xff\xfe\x80" * 64, FORM),
    ("control characters", urlencode(_form(text="1\x1b[2J")).encode(), FORM),
    ("oversized", urlencode(_form(text="1*" * 5000)).encode(), FORM),
]


@pytest.mark.parametrize(("case", "raw", "content_type"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests_get_a_polite_end_never_a_500(
    ussd: UssdPhone, spec: MenuSpec, case: str, raw: bytes, content_type: str | None
) -> None:
    screen = ussd.post(raw, content_type)
    assert (screen.status, screen.kind) == (200, "END"), case
    assert screen.body == spec.message("bad_request", "fr", spec.builtin_values())
    assert screen.content_type == "text/plain; charset=utf-8"
    assert "Traceback" not in screen.body


def test_redis_going_down_gets_the_unavailable_end(
    app_config: dict[str, Any], spec: MenuSpec
) -> None:
    # The app starts on a relay to the test Redis; cutting the relay takes Redis away mid-journey.
    proxy = TcpProxy((REDIS_HOST, REDIS_PORT))
    app = create_app({**app_config, "redis_url": f"redis://127.0.0.1:{proxy.port}/{REDIS_DB}"})
    phone = UssdPhone(app.test_client())
    try:
        assert phone.dial().kind == "CON"
        proxy.cut()
        screen = phone.type(option_key(spec, "main", next_="language"))
        again = phone.dial()
    finally:
        proxy.cut()
    for answer in (screen, again):
        assert (answer.status, answer.kind) == (200, "END")
        assert answer.body == spec.message("unavailable", "fr", spec.builtin_values())
