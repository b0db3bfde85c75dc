"""Deeply nested JSON, on every route that takes a body (walked from url_map): 400, never a 500.

Python's json parser recurses once per level: 5 000 `[` raised RecursionError in the views
(a 500) and, stored as a payment callback, in the job that parsed it (no review row). A payment
callback with its token is now stored and held for review, and answered 400.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from werkzeug.routing import Rule

import runtime
from gateway.json_bodies import MAX_JSON_DEPTH, nesting_depth
from payments.queues import PAYMENTS_QUEUE
from payments.store import PaymentStore
from runtime import keys
from tests.hardening.conftest import CHANNEL_TOKENS, TOKENS, build_path

LEVELS = 5_000
DEEP_ARRAYS = b"[" * LEVELS + b"]" * LEVELS
DEEP_OBJECTS = b'{"a":' * LEVELS + b"1" + b"}" * LEVELS
KEYS = {"agent": "Bearer demo-agent-key", "portal": "Bearer demo-portal-key"}
# The routes that read JSON today; the walk must find each of them (and any added later).
KNOWN_JSON_ROUTES = {
    "/api/v1/otp",
    "/api/v1/otp/verify",
    "/api/v1/requests/<ref>/decision",
    "/payments/<provider>/callback",
}


def _body_rules(app: Flask) -> list[Rule]:
    # Every Flask rule taking a body, except the `/t/<token>` twins (the same views); the USSD
    # hop is not among them (the fast path serves it, a form the engine reads, never JSON).
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if (rule.methods or set()) & {"POST", "PUT", "PATCH"} and "token" not in rule.arguments
        ),
        key=lambda rule: rule.rule,
    )


def _post(client: FlaskClient, rule: Rule, body: bytes, content_type: str) -> Any:
    path = build_path(rule, ref="10000012")
    channel = path.split("/")[1]
    query = f"?token={CHANNEL_TOKENS[channel]}&intent=x1" if channel in CHANNEL_TOKENS else ""
    scope = "agent" if "/requests" in path else "portal"
    return client.post(
        path + query,
        data=body,
        content_type=content_type,
        headers={"Authorization": KEYS[scope]},
    )


def test_the_parser_really_breaks_on_such_bodies() -> None:
    with pytest.raises(RecursionError):
        json.loads(DEEP_ARRAYS)


@pytest.mark.parametrize("body", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["arrays", "objects"])
@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_every_body_route_refuses_deep_json_with_a_clear_400(
    make_app: Any, body: bytes, content_type: str
) -> None:
    app = make_app(**TOKENS)
    client = app.test_client()
    rules = _body_rules(app)
    assert {rule.rule for rule in rules} >= KNOWN_JSON_ROUTES
    for rule in rules:
        response = _post(client, rule, body, content_type)
        where = f"{rule.rule} -> {response.status_code}"
        assert response.status_code == 400, where
        assert response.is_json, where
        answer = response.get_json()
        if rule.rule.startswith("/payments/"):
            # Daraja reads ResultCode/ResultDesc; a non-zero code is not an acknowledgement.
            assert answer["ResultCode"] == 1, where
            assert f"deeper than {MAX_JSON_DEPTH}" in answer["ResultDesc"], where
        else:
            assert answer["error"] == "malformed_json", where
            assert f"deeper than {MAX_JSON_DEPTH}" in answer["message"], where


def test_a_deep_payment_callback_is_answered_400_and_held_for_review(make_app: Any) -> None:
    app = make_app(**TOKENS)
    client = app.test_client()
    store = runtime.current().get(PaymentStore)
    queue = Queue(keys.queue(PAYMENTS_QUEUE), connection=runtime.current().get(redis.Redis))
    # Without the token: a 403 like any other callback, nothing stored.
    stranger = client.post(
        "/payments/sandbox/callback?intent=x1", data=DEEP_OBJECTS, content_type="application/json"
    )
    assert stranger.status_code == 403
    assert store.callbacks.get_callback(1) is None
    path = f"/payments/sandbox/callback/t/{CHANNEL_TOKENS['payments']}?intent=x1"
    response = client.post(path, data=DEEP_OBJECTS, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["ResultCode"] == 1
    assert "held for review" in response.get_json()["ResultDesc"]
    stored = store.callbacks.get_callback(1)
    assert stored is not None and stored.body == DEEP_OBJECTS.decode()
    # The job that once crashed on it holds it for a human instead.
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    [review] = store.reviews.list_reviews()
    assert review.reason == "unparseable"
    # The same callback, shallow, is stored and accepted: only the shape made the 400.
    ok = client.post(path, json={"intent_id": "x1", "reference": "r", "status": "succeeded"})
    assert ok.status_code == 200 and ok.get_json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert store.callbacks.get_callback(2) is not None


def test_ordinary_bodies_pass_and_brackets_inside_strings_do_not_count(
    app: Flask, client: FlaskClient
) -> None:
    nested_in_text = {
        "phone": "+243810000001",
        "purpose": "login",
        "note": "[" * LEVELS + "{" * LEVELS,
    }
    response = client.post(
        "/api/v1/otp", json=nested_in_text, headers={"Authorization": KEYS["portal"]}
    )
    assert response.status_code == 202, response.get_json()
    limit = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    response = client.post(
        "/api/v1/otp/verify",
        data=limit,
        content_type="application/json",
        headers={"Authorization": KEYS["portal"]},
    )
    # Parsed by the view, which wants an object: its own 400, not the guard's.
    assert response.status_code == 400
    assert response.get_json()["error"] != "malformed_json"


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b'{"a": [1, {"b": []}]}', 4),
        (b'"[[[["', 0),
        (rb'{"a": "\"[[[", "b": [[]]}', 3),
        (b"[" * 100, MAX_JSON_DEPTH + 1),  # stops counting past the limit
        (b"", 0),
    ],
)
def test_nesting_depth(body: bytes, depth: int) -> None:
    assert nesting_depth(body) == depth
