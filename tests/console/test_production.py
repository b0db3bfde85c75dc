"""Production: the console's cookie is Secure, and the demo accounts stop the start."""

from __future__ import annotations

from pathlib import Path

import pytest

import runtime
from civic import sql
from gateway.config import ConfigError
from gateway.schema import seed_demo_staff
from tests.gateway.test_golive import live_env, production_app


def test_production_sets_a_secure_cookie(tmp_path: Path, redis_url: str) -> None:
    env = live_env(tmp_path, redis_url)
    sql.migrate(env["DATABASE_URL"])
    app = production_app(env)
    try:
        cookie = app.test_client().get("/console/login").headers["Set-Cookie"]
    finally:
        runtime.uninstall()
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_production_refuses_to_start_while_the_demo_accounts_exist(
    tmp_path: Path, redis_url: str
) -> None:
    env = live_env(tmp_path, redis_url)
    sql.migrate(env["DATABASE_URL"])
    seed_demo_staff(env["DATABASE_URL"])
    with pytest.raises(ConfigError) as refused:
        production_app(env)
    runtime.uninstall()
    assert "staff accounts: agent@demo.city, supervisor@demo.city (demo accounts" in str(
        refused.value
    )


def test_production_refuses_to_start_with_metrics_open(tmp_path: Path, redis_url: str) -> None:
    env = {k: v for k, v in live_env(tmp_path, redis_url).items() if k != "METRICS_TOKEN"}
    with pytest.raises(ConfigError, match=r"/metrics: set METRICS_TOKEN or METRICS_CIDRS"):
        production_app(env)
    runtime.uninstall()
