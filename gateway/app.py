"""The Flask application factory: gunicorn serves `gateway.app:create_app()`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

import runtime
from gateway import api_appointments, ussd_wsgi
from gateway import container as composition
from gateway.config import Settings
from gateway.logsetup import configure_logging
from runtime.masking import install_url_secret_filter


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app: defaults, then the environment, then `test_config`."""
    settings = Settings.from_env(overrides=test_config)
    configure_logging(settings)
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    services = composition.build(settings)
    app.extensions["guichet"] = services
    _install_guards(app, settings)
    _register_blueprints(app)
    # USSD hops skip Flask (gateway/ussd_wsgi.py); every server and the test client go through it.
    ussd_wsgi.install(app, services, settings.max_request_bytes)
    return app


def services_of(app: Flask) -> runtime.Container:
    """Return the service container the app was built with."""
    container: runtime.Container = app.extensions["guichet"]
    return container


def _install_guards(app: Flask, settings: Settings) -> None:
    # Body cap, clean error answers, the per-IP API limit; tokens never reach access logs.
    from gateway import errors, json_bodies, limits  # noqa: PLC0415 - they import the app's collaborators

    errors.install(app, settings.max_request_bytes)
    json_bodies.install(app)
    app.before_request(limits.limit_api_per_ip)
    install_url_secret_filter()
    from gateway.callback_auth import CallbackGate  # noqa: PLC0415

    services_of(app).get(CallbackGate).announce_open_channels()


def _register_blueprints(app: Flask) -> None:
    # One blueprint per channel; each module exposes `blueprint`.
    from gateway import health  # noqa: PLC0415 - blueprints import the app's collaborators

    app.register_blueprint(health.blueprint)
    from gateway import ussd_events  # noqa: PLC0415

    app.register_blueprint(ussd_events.blueprint)
    from gateway import api_requests  # noqa: PLC0415

    app.register_blueprint(api_requests.blueprint)
    app.register_blueprint(api_requests.offices_blueprint)
    app.register_blueprint(api_appointments.blueprint)
    from gateway import api_otp, sms_callbacks  # noqa: PLC0415

    app.register_blueprint(sms_callbacks.blueprint)
    app.register_blueprint(api_otp.blueprint)
    from gateway import api_receipts, payments_callbacks  # noqa: PLC0415

    app.register_blueprint(payments_callbacks.blueprint)
    app.register_blueprint(api_receipts.blueprint)
    from gateway import simulator  # noqa: PLC0415

    if simulator.enabled(app.config["SETTINGS"]):
        app.register_blueprint(simulator.blueprint)
