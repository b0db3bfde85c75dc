"""The simulator's page and JSON endpoints: rendered in development, absent in production."""

from __future__ import annotations

import io
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

import runtime
from gateway.app import create_app
from gateway.config import ConfigError, Settings
from gateway.simulator import enabled
from menus.model import MenuSpec
from sms.providers.console import ConsoleProvider
from text.encoding import cost


def test_page_has_the_keypad_and_the_service_code(app: Flask, client: FlaskClient) -> None:
    spec = app.extensions["guichet"].get(MenuSpec)
    answer = client.get("/simulator")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    for key in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "star", "hash"):
        assert f'id="key-{key}"' in page
    for key in ("call", "hangup"):
        assert f'id="key-{key}"' in page
    assert f'data-service-code="{spec.service_code}"' in page
    assert 'data-ussd-url="/ussd/africastalking"' in page
    # No CDN, no build step: every script and stylesheet comes from this server.
    assert "http://" not in page
    assert "https://" not in page


def test_static_files_are_served(client: FlaskClient) -> None:
    for name in ("phone.js", "simulator.css"):
        with client.get(f"/simulator/static/simulator/{name}") as answer:
            assert answer.status_code == 200


def test_never_enabled_in_production() -> None:
    assert enabled(Settings(simulator_enabled=True))
    assert not enabled(Settings(simulator_enabled=False))
    assert not enabled(Settings(env="production", simulator_enabled=True))
    # Production does not even start with it on (gateway/config.py: play_money).
    with pytest.raises(ConfigError, match="SIMULATOR_ENABLED"):
        Settings.from_env({"GUICHET_ENV": "production", "SIMULATOR_ENABLED": "1"})


def test_absent_unless_enabled_in_development(app_config: dict[str, Any]) -> None:
    app = create_app({**app_config, "simulator_enabled": False})
    try:
        client = app.test_client()
        for path in ("/simulator", "/simulator/map", "/simulator/outbox?phone=%2B243810000001"):
            assert client.get(path).status_code == 404
        assert client.post("/simulator/cost", json={"text": "x"}).status_code == 404
    finally:
        runtime.uninstall()


TEXTS = [
    "",
    "Bienvenue à Goma\n1. Payer une taxe\n2. Suivre une demande",
    "Reçu: paiement confirmé",  # ç forces UCS-2
    "Prix {total} [CDF] ~ 100€",  # extension characters count two septets
    "Ça va? é è ù ì ò à",  # all GSM-7 (Ç is in the basic set)
    "fête",  # ê is not GSM-7
    "Habari 👋",  # outside the BMP: two UTF-16 units
    "x" * 182,
    "x" * 183,
]


@pytest.mark.parametrize("text", TEXTS)
def test_counter_agrees_with_sms_encoding(client: FlaskClient, text: str) -> None:
    answer = client.post("/simulator/cost", json={"text": text})
    assert answer.status_code == 200
    expected = cost(text)
    assert answer.get_json() == {
        "encoding": expected.encoding,
        "units": expected.units,
        "limit": expected.ussd_limit,
        "fits": expected.fits_ussd,
        "non_gsm": list(expected.non_gsm),
        "sms_segments": expected.sms_segments,
    }


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"text": 5}', b"[]", b'{"text": "' + b"x" * 2001 + b'"}'],
)
def test_counter_refuses_garbage(client: FlaskClient, body: bytes) -> None:
    answer = client.post("/simulator/cost", data=body, content_type="application/json")
    assert answer.status_code == 400
    assert "error" in answer.get_json()


@pytest.mark.parametrize(
    "phone",
    ["", "garbage", "+", "12", "+2438100000019999999", "'; DROP TABLE", "x" * 5000, "+999123"],
)
def test_outbox_refuses_a_bad_phone(client: FlaskClient, phone: str) -> None:
    answer = client.get("/simulator/outbox", query_string={"phone": phone})
    assert answer.status_code == 400
    assert "phone" in answer.get_json()["error"]


def test_outbox_without_phone_is_a_400(client: FlaskClient) -> None:
    assert client.get("/simulator/outbox").status_code == 400


def test_language_refuses_garbage(client: FlaskClient) -> None:
    assert client.post("/simulator/language", data=b"x").status_code == 400
    bad_lang = client.post("/simulator/language", json={"phone": "+243810000001", "lang": "xx"})
    assert bad_lang.status_code == 400
    bad_phone = client.post("/simulator/language", json={"phone": "nope", "lang": "en"})
    assert bad_phone.status_code == 400


def test_map_page_draws_every_screen(app: Flask, client: FlaskClient) -> None:
    spec = app.extensions["guichet"].get(MenuSpec)
    answer = client.get("/simulator/map?lang=en")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "<svg" in page
    for screen_id in spec.screens:
        assert f'data-screen="{screen_id}"' in page
    assert client.get("/simulator/map?lang=zz").status_code == 200  # falls back to the default


def test_outbox_shows_that_phones_messages_only(app: Flask, client: FlaskClient) -> None:
    provider = ConsoleProvider(app.extensions["guichet"].get(redis.Redis), stream=io.StringIO())
    provider.send(["+243810000001"], "Reçu ABC-123: 5000 CDF", None)
    provider.send(["+243810000002"], "not for this phone", None)
    provider.send(["+243810000001"], "Second message", None)
    # A national number is read in the city's country, as the USSD edge reads it.
    answer = client.get("/simulator/outbox", query_string={"phone": "0810000001"})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["phone"] == "+243810000001"
    assert [m["text"] for m in body["messages"]] == ["Second message", "Reçu ABC-123: 5000 CDF"]
    assert body["messages"][1]["encoding"] == "UCS-2"
    assert body["messages"][0]["segments"] == 1


def test_language_is_chosen_through_the_language_menu(client: FlaskClient, ussd: Any) -> None:
    french = ussd.dial(phone="+243810000001")
    answer = client.post("/simulator/language", json={"phone": "+243810000001", "lang": "en"})
    assert answer.status_code == 200
    assert answer.get_json() == {"phone": "+243810000001", "lang": "en"}
    english = ussd.dial(phone="+243810000001")
    assert english.kind == "CON"
    assert english.body != french.body
    assert "Help" in english.body  # and no "continue where you left off" offer
