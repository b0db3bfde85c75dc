from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

import runtime
from gateway.app import create_app
from gateway.auth import digest, require_api_key
from gateway.config import ConfigError


def _app_with_guarded_route(config: dict[str, object]) -> Flask:
    app = create_app(config)

    @app.get("/guarded")
    @require_api_key("agent")
    def guarded() -> str:
        return "in"

    return app


@pytest.fixture
def guarded_client(app_config: dict[str, object]) -> Iterator[FlaskClient]:
    key_entry = f"alice:agent:{digest('s3cret-agent')},pat:portal:{digest('s3cret-portal')}"
    yield _app_with_guarded_route({**app_config, "api_keys": key_entry}).test_client()
    runtime.uninstall()


def test_known_key_of_the_right_scope_gets_in(guarded_client: FlaskClient) -> None:
    response = guarded_client.get("/guarded", headers={"Authorization": "Bearer s3cret-agent"})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "in"  # the view ran, not an error page


@pytest.mark.parametrize("header", ["", "Bearer nope", "Basic s3cret-agent", "Bearer"])
def test_unknown_or_missing_key_gets_401(guarded_client: FlaskClient, header: str) -> None:
    response = guarded_client.get("/guarded", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_key_of_another_scope_gets_403(guarded_client: FlaskClient) -> None:
    response = guarded_client.get("/guarded", headers={"Authorization": "Bearer s3cret-portal"})
    assert response.status_code == 403


def test_configured_keys_replace_the_demo_keys(guarded_client: FlaskClient) -> None:
    response = guarded_client.get("/guarded", headers={"Authorization": "Bearer demo-agent-key"})
    assert response.status_code == 401


def test_malformed_key_entry_refuses_to_start(app_config: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        create_app({**app_config, "api_keys": "alice:root:abc"})
