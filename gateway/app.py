"""The Flask application factory: gunicorn serves `gateway.app:create_app()`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask

from gateway import (
    api_appointments,
    api_otp,
    api_receipts,
    api_requests,
    errors,
    health,
    json_bodies,
    limits,
    payments_callbacks,
    simulator,
    sms_callbacks,
    ussd_events,
    ussd_wsgi,
)
from gateway import container as composition
from gateway.callback_auth import CallbackGate
from gateway.config import Settings
from gateway.console import views as console
from gateway.logsetup import configure_logging
from gateway.services import EXTENSION_KEY, services_of
from runtime.masking import install_url_secret_filter

__all__ = ["create_app", "services_of"]


def create_app(
    test_config: Mapping[str, Any] | None = None, *, redis_client: redis.Redis | None = None
) -> Flask:
    """Build the web app: defaults, then the environment, then `test_config`.

    `redis_client` replaces the one Settings would build (gateway.emulation passes its own).
    """
    settings = Settings.from_env(overrides=test_config)
    configure_logging(settings)
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    services = composition.build(settings, redis_client=redis_client)
    app.extensions[EXTENSION_KEY] = services
    _install_guards(app, settings)
    _register_blueprints(app)
    # USSD hops skip Flask (gateway/ussd_wsgi.py); every server and the test client go through it.
    ussd_wsgi.install(app, services, settings)
    return app


def _install_guards(app: Flask, settings: Settings) -> None:
    # Body cap, clean error answers, the per-IP API limit; tokens never reach access logs.
    errors.install(app, settings.max_request_bytes)
    json_bodies.install(app)
    app.before_request(limits.limit_api_per_ip)
    install_url_secret_filter()
    services_of(app).get(CallbackGate).announce_open_channels()


def _register_blueprints(app: Flask) -> None:
    # One blueprint per channel; each module exposes `blueprint`.
    app.register_blueprint(health.blueprint)
    app.register_blueprint(ussd_events.blueprint)
    app.register_blueprint(api_requests.blueprint)
    app.register_blueprint(api_requests.offices_blueprint)
    app.register_blueprint(api_appointments.blueprint)
    app.register_blueprint(sms_callbacks.blueprint)
    app.register_blueprint(api_otp.blueprint)
    app.register_blueprint(payments_callbacks.blueprint)
    app.register_blueprint(api_receipts.blueprint)
    console.install(app, app.config["SETTINGS"])  # the staff console at /console
    if simulator.enabled(app.config["SETTINGS"]):
        app.register_blueprint(simulator.blueprint)
