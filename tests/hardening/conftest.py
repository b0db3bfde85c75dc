"""Helpers of the hardening tests: an app with every callback token set, every route it answers."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

import runtime
from gateway import ussd_wsgi
from gateway.app import create_app
from gateway.schema import migrate_all

TOKENS = {
    "ussd_callback_token": "ussd-token-0123456789abcdef",
    "sms_callback_token": "sms-token-0123456789abcdef",
    "payment_callback_token": "pay-token-0123456789abcdef",
    "twilio_auth_token": "twilio-token-0123456789abcdef",  # Twilio's callbacks are signed too
}
CHANNEL_TOKENS = {
    "ussd": TOKENS["ussd_callback_token"],
    "sms": TOKENS["sms_callback_token"],
    "payments": TOKENS["payment_callback_token"],
}
CALLBACK_PREFIXES = ("/ussd/", "/sms/", "/payments/")
# Values for the URL variables of every rule (unknown names get "x1").
URL_VALUES = {"provider": "sandbox", "ref": "GOM-00000000", "code": "4827-1930-55"}


def build_path(rule: Rule, **values: str) -> str:
    """Return a concrete path for `rule`, filling its variables."""
    path = rule.rule
    for argument in rule.arguments:
        value = values.get(argument, URL_VALUES.get(argument, "x1"))
        path = path.replace(f"<path:{argument}>", value).replace(f"<{argument}>", value)
    return path


def routes(app: Flask) -> list[Rule]:
    """Return every route the edge answers: Flask's url_map and the USSD fast path's rules."""
    return [*app.url_map.iter_rules(), *ussd_wsgi.ROUTES.iter_rules()]


def callback_rules(app: Flask) -> list[Rule]:
    """Return the callback rules without a token segment (the ones aggregators are given)."""
    return [
        rule
        for rule in routes(app)
        if rule.rule.startswith(CALLBACK_PREFIXES) and "token" not in rule.arguments
    ]


def channel_of(app: Flask, rule: Rule) -> object:
    """Return the callback channel guarding `rule` (None: not registered with callback_route)."""
    if rule.endpoint in ussd_wsgi.HOP_ENDPOINTS:
        return ussd_wsgi.CHANNEL  # a hop: served by the fast path, not a Flask view
    return getattr(app.view_functions[rule.endpoint], "callback_channel", None)


def dead_redis_url() -> str:
    """Return the URL of a port nothing listens on (connection refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def make_app(app_config: dict[str, Any]) -> Iterator[Any]:
    """Return a factory of apps built on the test's Redis with extra settings."""

    def make(**overrides: Any) -> Flask:
        application = create_app({**app_config, **overrides})
        application.testing = True
        migrate_all(application.config["SETTINGS"], io.StringIO())  # payment callbacks store
        return application

    yield make
    runtime.uninstall()


@pytest.fixture
def guarded(make_app: Any) -> FlaskClient:
    """Return a client of an app with every callback token configured."""
    client: FlaskClient = make_app(**TOKENS).test_client()
    return client
