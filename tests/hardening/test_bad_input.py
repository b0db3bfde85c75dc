"""Bad input: oversized bodies, unknown routes and methods, odd phones and keypad look-alikes."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.africastalking import MAX_BODY_BYTES, normalise_keypad
from menus.model import MenuSpec
from tests.conftest import UssdPhone

PORTAL = {"Authorization": "Bearer demo-portal-key"}
FORM = {
    "sessionId": "ATUid_bad1",
    "serviceCode": "*384*12#",
    "phoneNumber": "+243810000001",
    "networkCode": "63902",
    "text": "",
}


def _bad_request_text(app: Flask) -> str:
    spec: MenuSpec = app.extensions["guichet"].get(MenuSpec)
    return "END " + spec.message("bad_request", "fr", spec.builtin_values())


@pytest.mark.parametrize("path", ["/api/v1/otp", "/sms/africastalking/inbound"])
def test_oversized_json_and_callback_bodies_get_a_clean_413(client: FlaskClient, path: str) -> None:
    response = client.post(path, data=b"{" + b" " * 70_000 + b"}", headers=PORTAL)
    assert response.status_code == 413
    assert response.is_json and response.get_json()["error"]


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 70_000])
def test_oversized_ussd_bodies_end_politely(app: Flask, client: FlaskClient, size: int) -> None:
    response = client.post(
        "/ussd/africastalking",
        data=b"text=" + b"1" * size,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True) == _bad_request_text(app)


def test_unknown_routes_and_methods_answer_clean_bodies(app: Flask, client: FlaskClient) -> None:
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.get_json()["error"] == "not_found"
    page = client.get("/nothing-here")
    assert page.status_code == 404 and page.mimetype == "text/plain"
    assert page.get_data(as_text=True) == "404 Not Found\n"
    wrong = client.get("/sms/africastalking/inbound")
    assert wrong.status_code == 405 and wrong.is_json
    assert "POST" in wrong.headers["Allow"]
    hop = client.get("/ussd/africastalking")
    assert hop.status_code == 200 and hop.get_data(as_text=True) == _bad_request_text(app)


def test_a_failing_view_answers_a_clean_500(app: Flask) -> None:
    def boom() -> str:
        raise RuntimeError("secret detail")

    app.add_url_rule("/api/v1/boom", view_func=boom)
    app.add_url_rule("/boom", view_func=boom, endpoint="boom_text")
    app.testing = False  # as in production: exceptions are answered, not propagated
    client = app.test_client()
    api = client.get("/api/v1/boom")
    assert api.status_code == 500 and api.get_json()["error"] == "internal_server_error"
    text = client.get("/boom")
    assert text.status_code == 500 and text.mimetype == "text/plain"
    for body in (api.get_data(as_text=True), text.get_data(as_text=True)):
        assert "Traceback" not in body and "secret detail" not in body


@pytest.mark.parametrize(
    "typed",
    ["9", "٩", "۹", "９"],
    ids=["ascii", "arabic-indic", "eastern-arabic-indic", "full-width"],
)
def test_keypad_digits_of_other_scripts_are_read_as_ascii(ussd: UssdPhone, typed: str) -> None:
    ussd.dial()
    screen = ussd.type(typed)
    assert not screen.end
    assert screen.body.startswith("Choix de la langue")


def test_keypad_look_alikes() -> None:
    assert normalise_keypad("¡") == "@"
    assert normalise_keypad("＊１２＃") == "*12#"
    assert normalise_keypad("١٢٣*٤") == "123*4"
    assert normalise_keypad("Kinshasa Gombé") == "Kinshasa Gombé"  # letters are names


@pytest.mark.parametrize(
    ("phone", "accepted"),
    [
        ("+243810000001", True),
        ("243810000001", True),  # a gateway that drops the +
        ("0810000001", True),  # national format, read in the city's country
        ("+33612345678", True),  # a roaming citizen: menus work, SMS follow SMS_ALLOWED_COUNTRIES
        ("+2431", False),
        ("+243 81 abc", False),
        ("", False),
        ("+99912345678", False),
    ],
)
def test_phone_numbers(app: Flask, client: FlaskClient, phone: str, accepted: bool) -> None:
    body = client.post("/ussd/africastalking", data={**FORM, "phoneNumber": phone}).get_data(
        as_text=True
    )
    if accepted:
        assert body.startswith("CON ")
    else:
        assert body == _bad_request_text(app)


@pytest.mark.parametrize(
    "raw",
    [
        b"sessionId=ATUid_x&serviceCode=*384*12%23&phoneNumber=%2B243810000001&text=\xff\xfe",
        b"sessionId=ATUid_x&serviceCode=*384*12%23&phoneNumber=%2B243810000001&text=%C3%28",
        b"sessionId=ATUid_x&serviceCode=*384*12%23&phoneNumber=%2B243810000001&text=%00",
        b"sessionId=ATUid_x&serviceCode=*384*12%23&phoneNumber=%2B243810000001&text=" + b"1" * 2001,
        b"sessionId=../../etc&serviceCode=*384*12%23&phoneNumber=%2B243810000001&text=",
        b"\x00\x01\x02",
    ],
    ids=["raw-bytes", "bad-utf8-escape", "nul", "absurd-text", "bad-session-id", "binary"],
)
def test_garbage_forms_end_politely(app: Flask, ussd: UssdPhone, raw: bytes) -> None:
    screen = ussd.post(raw)
    assert screen.status == 200
    assert f"{screen.kind} {screen.body}" == _bad_request_text(app)


def test_an_unknown_session_with_history_starts_from_the_top(client: FlaskClient) -> None:
    body = client.post(
        "/ussd/africastalking", data={**FORM, "sessionId": "ATUid_never", "text": "9*hello"}
    ).get_data(as_text=True)
    assert body.startswith("CON Guichet")


def test_an_unknown_session_with_a_digits_path_walks_it_like_a_dial_string(
    client: FlaskClient,
) -> None:
    # Africa's Talking sends *384*12*9*7# as text=9*7 on the first hop: each part is an
    # answer, checked like a typed one (the language menu has no 7: it says so).
    body = client.post(
        "/ussd/africastalking", data={**FORM, "sessionId": "ATUid_walk", "text": "9*7"}
    ).get_data(as_text=True)
    assert body.startswith("CON Choix invalide.\nChoix de la langue")


def test_json_apis_refuse_non_json_politely(client: FlaskClient) -> None:
    bodies: list[Any] = [b"\xff\xfe", b"[1, 2", b"null", b'"text"']
    for body in bodies:
        response = client.post(
            "/api/v1/otp", data=body, content_type="application/json", headers=PORTAL
        )
        assert response.status_code == 400 and response.is_json
