"""The database unreachable: journeys that need it say "try again later"; /readyz says why."""

from __future__ import annotations

import time
from typing import Any

import pytest

import runtime
from gateway.app import create_app
from menus.hop import HopHandler
from tests.chaos.conftest import PrivateRedis, free_port
from tests.conftest import UssdPhone

pytestmark = pytest.mark.slow  # starts and stops real processes

PAY_TOKEN = "chaos-payment-token-0123456789"


def test_database_unreachable(private_redis: PrivateRedis, figures: dict[str, Any]) -> None:
    closed = free_port()  # nothing listens there: connection refused
    app = create_app(
        {
            "redis_url": private_redis.url,
            "database_url": f"postgresql+psycopg://guichet:secret@127.0.0.1:{closed}/guichet",
            "otp_key": "chaos-otp-key-0123456789abcdef",
            "payment_callback_token": PAY_TOKEN,
            "payment_reconcile_interval_seconds": 0.0,
            "metrics_flush_seconds": 0,
        }
    )
    try:
        client = app.test_client()
        polite = runtime.current().get(HopHandler).unavailable().body
        tried, errors, seconds = 0, [], []
        # Pay a tax (1), request a document (2): both list their choices from the database.
        for n, choice in enumerate(["1", "2", "1", "2"]):
            phone = UssdPhone(client, phone=f"+2438100077{n:02d}")
            tried += 2
            if phone.dial().kind != "CON":  # the home menu needs no database
                errors.append("home menu")
            started = time.perf_counter()
            screen = phone.type(choice)
            seconds.append(time.perf_counter() - started)
            if (screen.status, screen.kind, screen.body) != (200, "END", polite):
                errors.append(f"{screen.status} {screen.kind} {screen.body[:30]}")
        ready = client.get("/readyz")
        callback = client.post(
            f"/payments/sandbox/callback?token={PAY_TOKEN}&intent=x", json={"intent": "x"}
        )
        otp = client.post(
            "/api/v1/otp",
            json={"phone": "+243810007799", "purpose": "login"},
            headers={"Authorization": "Bearer demo-portal-key"},
        )
        tried += 3
        figures.update(
            {
                "requests tried": tried,
                "errors seen": len(errors),
                "time to the polite END, max s": round(max(seconds), 3),
                "/readyz": f"{ready.status_code} {ready.get_json()['checks']}",
                "payment callback while the database is down": callback.status_code,
                "OTP request while the database is down (no row, no 202)": otp.status_code,
            }
        )
        assert errors == []
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["database"].startswith("error")
        assert ready.get_json()["checks"]["redis"] == "ok"
        assert callback.status_code == 503  # not stored: the provider retries
        assert otp.status_code == 503  # the message log could not take it: not accepted
        assert max(seconds) < 5  # sanity bound; the figure goes to the README
    finally:
        runtime.uninstall()
