"""Console fixtures: an app on a copy of a seeded database, and a browser-like staff client."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import runtime
from gateway.app import create_app
from gateway.config import Settings
from gateway.console.accounts import DEMO_PASSWORD
from gateway.schema import migrate_all, seed_demo

AGENT = "agent@demo.city"  # serves townhall
SUPERVISOR = "supervisor@demo.city"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a SQLite file with the tables, the demo city and the demo accounts (made once)."""
    path = tmp_path_factory.mktemp("console-seed") / "guichet.db"
    settings = Settings(database_url=f"sqlite:///{path}")
    migrate_all(settings, io.StringIO())
    seed_demo(settings, io.StringIO())
    return path


@pytest.fixture
def console_config(
    app_config: dict[str, Any], seeded_database: Path, tmp_path: Path
) -> dict[str, Any]:
    """Return the test's settings on its own copy of the seeded database."""
    copy = tmp_path / "console.db"
    shutil.copy(seeded_database, copy)
    return {**app_config, "database_url": f"sqlite:///{copy}"}


@pytest.fixture
def console_app(console_config: dict[str, Any]) -> Iterator[Flask]:
    """Yield the app on the seeded copy."""
    application = create_app(console_config)
    application.testing = True
    yield application
    runtime.uninstall()


def csrf_of(response: TestResponse) -> str:
    """Return the CSRF token a console page carries."""
    found = _CSRF.search(response.get_data(as_text=True))
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


class Staff:
    """A browser on the console: logs in, reads pages, posts forms with their CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf = ""

    def login(self, email: str, password: str = DEMO_PASSWORD) -> TestResponse:
        """Open the login page, then post the form."""
        self.csrf = csrf_of(self.client.get("/console/login"))
        answer = self.client.post(
            "/console/login", data={"csrf_token": self.csrf, "email": email, "password": password}
        )
        if answer.status_code == 302:
            self.csrf = csrf_of(self.client.get("/console/password"))
        return answer

    def get(self, path: str) -> TestResponse:
        """GET a page; remember its CSRF token when it has one."""
        answer = self.client.get(path)
        found = _CSRF.search(answer.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return answer

    def post(self, path: str, **form: str) -> TestResponse:
        """POST a form with the session's CSRF token."""
        return self.client.post(path, data={"csrf_token": self.csrf, **form})

    def cookie(self) -> str | None:
        """Return the console session cookie's value."""
        found = self.client.get_cookie("guichet_console", path="/console")
        return found.value if found is not None else None


@pytest.fixture
def agent(console_app: Flask) -> Staff:
    """Return the demo agent, logged in."""
    staff = Staff(console_app.test_client())
    assert staff.login(AGENT).status_code == 302
    return staff


@pytest.fixture
def supervisor(console_app: Flask) -> Staff:
    """Return the demo supervisor, logged in."""
    staff = Staff(console_app.test_client())
    assert staff.login(SUPERVISOR).status_code == 302
    return staff
