"""Property-based: arbitrary requests to EVERY endpoint (from url_map) never break the edge.

Whatever arrives: never a 500, never a trace in the body; the USSD hop URL always answers
`CON `/`END ` with a screen that fits; /api answers JSON; any JSON answer parses.
"""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from gateway.ussd_wsgi import HOP_ENDPOINT
from tests.hardening.conftest import build_path, routes
from text.encoding import cost

USSD_HOP = HOP_ENDPOINT
FIELDS = [
    "sessionId",
    "serviceCode",
    "phoneNumber",
    "networkCode",
    "text",
    "from",
    "to",
    "id",
    "status",
    "phone",
    "purpose",
    "code",
    "decision",
    "reason",
]
PROPERTY_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_header_text = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=40)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4)
    ),
    max_leaves=12,
)
_forms = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), st.text(max_size=60), max_size=7
)
_bodies = st.one_of(
    _forms.map(lambda form: ("form", form)),
    _json_values.map(lambda value: ("json", value)),
    st.binary(max_size=400).map(lambda raw: ("raw", raw)),
)
_headers = st.dictionaries(
    st.sampled_from(["Authorization", "X-Forwarded-For", "Accept", "X-Real-IP", "User-Agent"]),
    st.one_of(
        st.sampled_from(["Bearer demo-agent-key", "Bearer demo-portal-key", "Bearer x"]),
        _header_text,
    ),
    max_size=3,
)
_content_types = st.sampled_from(
    [
        None,
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
    ]
)
_url_values = st.text(alphabet=string.ascii_letters + string.digits + "-_.~", min_size=1)


def _rules(app: Flask) -> list[Rule]:
    return sorted(routes(app), key=lambda rule: rule.rule)


def _send(  # noqa: PLR0917 - one call site per test, each argument a drawn value
    client: FlaskClient,
    rule: Rule,
    method: str,
    body: tuple[str, Any],
    headers: dict[str, str],
    content_type: str | None,
    url_value: str = "x1",
    query: str = "",
) -> TestResponse:
    path = build_path(rule, **dict.fromkeys(rule.arguments, url_value))
    kind, payload = body
    kwargs: dict[str, Any] = {"method": method, "headers": headers}
    if kind == "form":
        kwargs["data"] = payload
    elif kind == "json":
        kwargs["data"] = json.dumps(payload)
        kwargs["content_type"] = content_type or "application/json"
    else:
        kwargs["data"] = payload
        if content_type is not None:
            kwargs["content_type"] = content_type
    return client.open(path + ("?" + query if query else ""), **kwargs)


def _check(rule: Rule, response: TestResponse, method: str) -> None:
    where = f"{method} {rule.rule} -> {response.status_code}"
    assert response.status_code < 500 or response.status_code == 503, where
    raw = response.get_data()
    assert b"Traceback" not in raw and b'File "' not in raw, where
    if method in {"OPTIONS", "HEAD"}:
        return  # Flask answers these itself, without a body
    if rule.endpoint == USSD_HOP:
        text = raw.decode("utf-8")
        assert text.startswith(("CON ", "END ")), where
        assert cost(text[4:]).fits_ussd, where
    if rule.rule.startswith("/api/") or response.mimetype == "application/json":
        assert response.is_json, where
        json.loads(raw)


@pytest.fixture
def fuzz_client(make_app: Any) -> FlaskClient:
    """Return a client of a development app (no tokens: bodies reach the handlers)."""
    client: FlaskClient = make_app().test_client()
    return client


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    body=_bodies,
    headers=_headers,
    content_type=_content_types,
    url_value=_url_values,
    query=st.text(alphabet=string.ascii_letters + string.digits + "=&%+", max_size=20),
)
def test_any_request_to_any_endpoint_gets_a_clean_answer(  # noqa: PLR0917 - hypothesis
    fuzz_client: FlaskClient,
    data: st.DataObject,
    body: tuple[str, Any],
    headers: dict[str, str],
    content_type: str | None,
    url_value: str,
    query: str,
) -> None:
    rule = data.draw(st.sampled_from(_rules(fuzz_client.application)))
    methods = sorted((rule.methods or {"GET"}) | {"GET", "PUT", "DELETE"})
    method = data.draw(st.sampled_from(methods))
    response = _send(fuzz_client, rule, method, body, headers, content_type, url_value, query)
    _check(rule, response, method)


NASTY: list[tuple[str, Any]] = [
    ("raw", b""),
    ("raw", b"\xff\xfe\x00garbage"),
    ("raw", b"sessionId=a&sessionId=b&text=%ZZ"),
    ("form", {"text": "\u0000\u202e", "phoneNumber": "+" + "9" * 40}),
    ("json", {"phone": ["+243810000001"], "purpose": {"a": 1}, "code": 123456}),
    ("json", [None] * 50),
    ("json", "x" * 2000),
    ("raw", b"{" * 5000),
]


def test_every_endpoint_survives_the_classic_garbage(fuzz_client: FlaskClient) -> None:
    rules = _rules(fuzz_client.application)
    assert any(rule.endpoint == USSD_HOP for rule in rules)
    for rule in rules:
        for method in sorted(rule.methods or {"GET"}):
            for body in NASTY:
                for content_type in (None, "application/json", "application/x-www-form-urlencoded"):
                    response = _send(fuzz_client, rule, method, body, {}, content_type)
                    _check(rule, response, method)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    typed=st.lists(st.text(max_size=12), min_size=1, max_size=6),
    phone=st.sampled_from(["+243810000001", "+243810000002", "0810000003", "+33612345678"]),
)
def test_ussd_journeys_with_arbitrary_keypad_input_stay_well_formed(
    fuzz_client: FlaskClient, typed: list[str], phone: str
) -> None:
    session = f"ATUid_prop{abs(hash((tuple(typed), phone))) % 10**9}"
    text = ""
    for hop, value in enumerate(["", *typed]):
        text = value if hop <= 1 else f"{text}*{value}"
        form = {
            "sessionId": session,
            "serviceCode": "*384*12#",
            "phoneNumber": phone,
            "networkCode": "63902",
            "text": text,
        }
        response = fuzz_client.post("/ussd/africastalking", data=form)
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert body.startswith(("CON ", "END ")), body
        assert cost(body[4:]).fits_ussd, body
        if body.startswith("END "):
            break
