"""Every /api route needs a bearer key: enumerated from url_map, so new routes are covered."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.hardening.conftest import build_path

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def test_no_api_route_answers_without_a_bearer_key(client: FlaskClient) -> None:
    checked = 0
    for rule in client.application.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            path = build_path(rule)
            for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "x"}):
                response = client.open(path, method=method, json={}, headers=headers)
                assert response.status_code == 401, f"{method} {rule.rule}"
                assert response.is_json and response.get_json()["error"] == "unauthorized"
                assert "Bearer" in response.headers["WWW-Authenticate"]
            checked += 1
    assert checked >= 6  # requests list/get/decide, otp issue/verify, receipts


def test_keys_are_scoped(client: FlaskClient) -> None:
    portal = {"Authorization": "Bearer demo-portal-key"}
    agent = {"Authorization": "Bearer demo-agent-key"}
    assert client.get("/api/v1/requests", headers=portal).status_code == 403
    assert client.post("/api/v1/otp", json={}, headers=agent).status_code == 403
