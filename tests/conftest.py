"""Shared fixtures: a real Redis database per test run, the app, its client.

Each test gets a flushed Redis database (GUICHET_TEST_REDIS_DB, default 15) so parallel
work on this machine can use other indexes; the bench owns 1-3.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

import runtime
from gateway.app import create_app

REDIS_HOST = os.environ.get("GUICHET_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("GUICHET_TEST_REDIS_PORT", "6379"))
REDIS_DB = int(os.environ.get("GUICHET_TEST_REDIS_DB", "15"))


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Yield the URL of a flushed Redis database; flush it again afterwards."""
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """Yield a client on the test's Redis database."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def app_config(redis_url: str, tmp_path: Path) -> dict[str, Any]:
    """Return the settings overrides every test app starts from."""
    return {
        "redis_url": redis_url,
        "database_url": f"sqlite:///{tmp_path / 'guichet.db'}",
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """Yield the app built on the test's Redis and database."""
    application = create_app(app_config)
    application.testing = True
    yield application
    runtime.uninstall()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client of the app."""
    return app.test_client()
