"""The USSD fast path answers hops before Flask, and leaves every other request to Flask."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

FORM = {
    "sessionId": "ATUid_fast1",
    "serviceCode": "*384*12#",
    "phoneNumber": "+243810000001",
    "networkCode": "63902",
    "text": "",
}


def _count_flask_requests(app: Flask) -> list[str]:
    seen: list[str] = []
    app.before_request(lambda: seen.append("flask") and None)
    return seen


def test_a_hop_never_reaches_flask(app: Flask, client: FlaskClient) -> None:
    seen = _count_flask_requests(app)
    response = client.post("/ussd/africastalking", data=FORM)
    assert response.status_code == 200
    assert response.content_type == "text/plain; charset=utf-8"
    assert response.get_data(as_text=True).startswith("CON ")
    assert seen == []


def test_other_methods_and_paths_still_go_to_flask(app: Flask, client: FlaskClient) -> None:
    seen = _count_flask_requests(app)
    hop_get = client.get("/ussd/africastalking")
    assert hop_get.status_code == 200  # the clean END of gateway/errors.py
    assert hop_get.get_data(as_text=True).startswith("END ")
    assert (
        client.post("/ussd/africastalking/t/", data=FORM).get_data(as_text=True).startswith("END ")
    )
    assert client.get("/nowhere").status_code == 404
    assert seen == ["flask", "flask", "flask"]


def test_a_malformed_or_oversized_hop_gets_an_end(client: FlaskClient) -> None:
    malformed = client.post("/ussd/africastalking", data={**FORM, "sessionId": "<script>"})
    assert malformed.status_code == 200
    assert malformed.get_data(as_text=True).startswith("END ")
    huge = client.post("/ussd/africastalking", data={**FORM, "text": "1" * 20000})
    assert huge.status_code == 200
    assert huge.get_data(as_text=True).startswith("END ")
