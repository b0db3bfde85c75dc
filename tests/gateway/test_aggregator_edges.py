"""Each USSD adapter's edge: malformed hops are a clear 4xx in the aggregator's shape, never a
500; Hubtel's Release/Timeout close without a screen; the configurable adapter's settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

import runtime
from gateway.app import create_app
from gateway.config import ConfigError, Settings
from tests.conftest import REDIS_DB, REDIS_HOST, REDIS_PORT

PHONE = "243810000001"
HUBTEL = {
    "Mobile": PHONE,
    "SessionId": "a1b2c3",
    "ServiceCode": "*384*12#",
    "Type": "Initiation",
    "Message": "*384*12#",
    "Operator": "mtn",
    "Sequence": 1,
}
NALO = {"USERID": "APP", "MSISDN": PHONE, "USERDATA": "*384*12#", "MSGTYPE": True, "NETWORK": "MTN"}
ARKESEL = {
    "sessionID": "s-1",
    "userID": "U",
    "newSession": True,
    "msisdn": PHONE,
    "userData": "*384*12#",
    "network": "MTN",
}
# What each JSON adapter's END looks like: the key of its text, and how it says "closed".
CLOSED = {
    "/ussd/hubtel": ("Message", lambda r: r["Type"] == "Release"),
    "/ussd/nalo": ("MSG", lambda r: r["MSGTYPE"] is False),
    "/ussd/arkesel": ("message", lambda r: r["continueSession"] is False),
}
VALID = {"/ussd/hubtel": HUBTEL, "/ussd/nalo": NALO, "/ussd/arkesel": ARKESEL}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    """Return a client of one app for the module: building an app is most of a case's time."""
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    store = redis.Redis.from_url(url)
    store.flushdb()
    database = Path(tmp_path_factory.mktemp("edges")) / "guichet.db"
    application = create_app({"redis_url": url, "database_url": f"sqlite:///{database}"})
    application.testing = True
    yield application.test_client()
    runtime.uninstall()
    store.flushdb()
    store.close()


def _post(client: FlaskClient, url: str, body: Any) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json")


@pytest.mark.parametrize("url", sorted(VALID))
def test_a_valid_first_hop_opens_the_menu(client: FlaskClient, url: str) -> None:
    response = _post(client, url, VALID[url])
    assert response.status_code == 200
    key, closed = CLOSED[url]
    assert not closed(response.get_json()) and "1. " in response.get_json()[key]


REQUIRED = {
    "/ussd/hubtel": ("Type", "SessionId", "Mobile", "Sequence"),
    "/ussd/nalo": ("USERID", "MSISDN", "MSGTYPE"),
    "/ussd/arkesel": ("sessionID", "msisdn", "newSession"),
}


def _malformed() -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = []
    for url, valid in VALID.items():
        cases += [(url, b""), (url, b"not json"), (url, b"[1, 2]"), (url, b'"text"')]
        cases += [(url, b"{" * 3000), (url, {**valid, "x": "1" * 9000})]  # deep, too large
        cases += [(url, {k: v for k, v in valid.items() if k != name}) for name in REQUIRED[url]]
        cases += [(url, {**valid, name: ["a", "list"]}) for name in valid]
    return [
        *cases,
        ("/ussd/hubtel", {**HUBTEL, "Type": "AddToCart"}),
        ("/ussd/hubtel", {**HUBTEL, "Sequence": "first"}),
        ("/ussd/hubtel", {**HUBTEL, "Sequence": -1}),
        ("/ussd/hubtel", {**HUBTEL, "SessionId": "<script>"}),
        ("/ussd/hubtel", {**HUBTEL, "Type": "Response", "Message": "1\u200b"}),
        ("/ussd/nalo", {**NALO, "MSGTYPE": "maybe"}),
        ("/ussd/nalo", {**NALO, "MSISDN": "not a phone"}),
        ("/ussd/nalo", {**NALO, "USERID": " "}),
        ("/ussd/arkesel", {**ARKESEL, "newSession": None}),
        ("/ussd/arkesel", {**ARKESEL, "msisdn": "+243999"}),
        ("/ussd/arkesel", {**ARKESEL, "sessionID": "x" * 200}),
    ]


@pytest.mark.parametrize(("url", "body"), _malformed())
def test_a_malformed_hop_is_a_4xx_end_in_the_aggregators_shape(
    client: FlaskClient, url: str, body: Any
) -> None:
    response = _post(client, url, body)
    assert response.status_code in {400, 413}, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    key, closed = CLOSED[url]
    reply = response.get_json()
    assert closed(reply) and reply[key]  # a polite END the phone can show


@pytest.mark.parametrize("kind", ["Timeout", "Release"])
def test_hubtel_closing_a_session_gets_no_screen(client: FlaskClient, kind: str) -> None:
    assert _post(client, "/ussd/hubtel", HUBTEL).status_code == 200
    closing = _post(client, "/ussd/hubtel", {**HUBTEL, "Type": kind, "Message": "", "Sequence": 2})
    assert (closing.status_code, closing.get_json()) == (200, {"Type": "Release", "Message": ""})


def test_the_configurable_adapter_refuses_what_is_not_its_form(client: FlaskClient) -> None:
    missing = client.get("/ussd/generic?MSISDN=243810000001&INPUT=")
    assert missing.status_code == 400 and missing.get_data(as_text=True).startswith("END ")
    as_json = client.post("/ussd/generic", data="{}", content_type="application/json")
    assert as_json.status_code == 400 and as_json.get_data(as_text=True).startswith("END ")
    served = client.get("/ussd/generic?SESSIONID=g1&MSISDN=243810000001&USSDCODE=*384*12%23")
    assert served.status_code == 200 and served.get_data(as_text=True).startswith("CON ")
    assert client.put("/ussd/generic").status_code == 404  # Flask has no route: a clean 4xx


@pytest.mark.parametrize(
    "overrides",
    [
        {"ussd_generic_input": "everything"},
        {"ussd_generic_input_field": "SESSIONID"},  # two values under one name
        {"ussd_generic_msisdn_field": "token"},  # the callback token's parameter
        {"ussd_generic_service_field": "a b"},
    ],
)
def test_the_configurable_adapter_refuses_settings_that_cannot_work(
    overrides: dict[str, str],
) -> None:
    with pytest.raises(ConfigError, match="USSD_GENERIC_"):
        Settings.from_env(overrides=overrides)


def test_every_adapter_takes_the_ussd_token_in_the_path_or_the_query(
    app_config: dict[str, Any],
) -> None:
    token = "ussd-token-0123456789abcdef"
    application = create_app({**app_config, "ussd_callback_token": token})
    try:
        guarded = application.test_client()
        for url, body in VALID.items():
            closed = CLOSED[url][1]
            by_path = _post(guarded, f"{url}/t/{token}", {**body, "Sequence": 1})
            by_query = _post(guarded, f"{url}?token={token}", {**body, "Sequence": 1})
            assert (by_path.status_code, by_query.status_code) == (200, 200), url
            refused = _post(guarded, f"{url}/t/{'x' * 26}", body)
            assert refused.status_code == 403 and closed(refused.get_json()), url
            assert token not in refused.get_data(as_text=True)
        generic = guarded.get(f"/ussd/generic/t/{token}?SESSIONID=g9&MSISDN={PHONE}")
        assert generic.status_code == 200 and generic.get_data(as_text=True).startswith("CON ")
        assert guarded.get(f"/ussd/generic?SESSIONID=g9&MSISDN={PHONE}").status_code == 403
    finally:
        runtime.uninstall()
