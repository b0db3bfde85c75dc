"""Shared fixtures: a real Redis database per test run, the app, its client.

Each test gets a flushed Redis database (GUICHET_TEST_REDIS_DB, default 15) so parallel
work on this machine can use other indexes; the bench owns 1-3, bench-sms 13.

Under pytest-xdist (`make test` runs `-n`), worker gwN flushes database BASE - N, BASE being
GUICHET_TEST_REDIS_DB: with two workers 15 and 14, so no worker ever flushes another's data.
Anything a test starts (subprocesses, servers) gets its URL from the `redis_url` fixture.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from xdist.scheduler import LoadScopeScheduling

import runtime
from fakes.africastalking import FakeAfricasTalking
from fakes.daraja import FakeDaraja
from gateway.app import create_app
from tests.live_server import LiveServer

REDIS_HOST = os.environ.get("GUICHET_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("GUICHET_TEST_REDIS_PORT", "6379"))


def worker_redis_db(base: int, worker: str | None) -> int:
    """Return the database of xdist worker `worker` ("gw3"; None when not under xdist)."""
    index = int(worker.removeprefix("gw")) if worker else 0
    if index > base:
        raise pytest.UsageError(
            f"worker {worker} would need Redis database {base - index}: "
            f"raise GUICHET_TEST_REDIS_DB ({base}) or run fewer workers"
        )
    return base - index


# xdist sets PYTEST_XDIST_WORKER in a worker before it imports any conftest.
REDIS_DB = worker_redis_db(
    int(os.environ.get("GUICHET_TEST_REDIS_DB", "15")), os.environ.get("PYTEST_XDIST_WORKER")
)


# --- pytest-xdist scheduling --------------------------------------------------------------
# Tests under these paths run one after the other on one worker: the browser tests share one
# session-scoped Chromium (and its first-use apt-get install). By path, not by marker: the
# controller schedules node ids only, and xdist's own `--dist loadgroup` cannot tag them on
# pytest 9.2 (it writes Item._nodeid, which pytest 9 no longer reads).
SERIAL_GROUPS = {"tests/browser/": "browser"}  # node id prefix -> group


def work_unit(nodeid: str) -> str:
    """Return the unit of work `nodeid` is scheduled in: its SERIAL_GROUPS group, or itself."""
    for prefix, group in SERIAL_GROUPS.items():
        if nodeid.startswith(prefix):
            return group
    return nodeid


class GroupedLoadScheduling(LoadScopeScheduling):
    """`--dist load` test by test, except that each group of SERIAL_GROUPS is one unit."""

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    """Schedule `--dist load` with GroupedLoadScheduling (other modes: xdist's own)."""
    if config.getvalue("dist") != "load":
        return None
    return GroupedLoadScheduling(config, log)


# --- figures of the drills (tests/chaos, tests/topology), for the README --------------------
# A drill fills a dict; it travels in its test report's user_properties, so under xdist the
# controller (which prints the summary) gets the figures every worker measured.
FIGURES_PROPERTY = "guichet_figures"
FIGURES: dict[str, dict[str, dict[str, Any]]] = {}  # section -> test name -> figures


def figures_of(request: pytest.FixtureRequest, section: str) -> dict[str, Any]:
    """Return the dict of figures `request`'s test reports under `section` (chaos, topology)."""
    values: dict[str, Any] = {}
    request.node.user_properties.append((FIGURES_PROPERTY, [section, request.node.name, values]))
    return values


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep the figures a drill reported (here or on an xdist worker)."""
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == FIGURES_PROPERTY:
            section, name, values = value
            FIGURES.setdefault(section, {})[name] = values


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the drills' figures and write them to var/<section>-figures.json."""
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller has every worker's figures
    for section, tests in sorted(FIGURES.items()):
        terminalreporter.section(f"{section} figures")
        for name, values in tests.items():
            terminalreporter.write_line(name)
            for key, value in values.items():
                terminalreporter.write_line(f"    {key}: {value}")
        path = Path("var") / f"{section}-figures.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(tests, indent=2) + "\n")


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


@dataclass(frozen=True, slots=True)
class UssdScreen:
    """One USSD answer as the phone gets it: `kind` CON or END, the body, the HTTP status."""

    kind: str
    body: str
    status: int
    content_type: str

    @property
    def end(self) -> bool:
        """Return True when the session is closed."""
        return self.kind == "END"


class UssdPhone:
    """Dial and type like Africa's Talking: a new session id per dial, `text` joined by `*`."""

    url = "/ussd/africastalking"

    def __init__(
        self,
        client: FlaskClient,
        phone: str = "+243810000001",
        service_code: str = "*384*12#",
        network_code: str = "63902",
    ) -> None:
        self.client = client
        self.phone = phone
        self.service_code = service_code
        self.network_code = network_code
        self.session_id = ""
        self.inputs: list[str] = []
        self.last: UssdScreen | None = None

    @property
    def text(self) -> str:
        """Return `text` as the aggregator sends it now."""
        return "*".join(self.inputs)

    def dial(self, phone: str | None = None, service_code: str | None = None) -> UssdScreen:
        """Start a new session (new session id, empty text) and return the first screen."""
        self.phone = phone or self.phone
        self.service_code = service_code or self.service_code
        self.session_id = "ATUid_" + uuid.uuid4().hex
        self.inputs = []
        return self._hop()

    def type(self, *inputs: str) -> UssdScreen:
        """Send each input as one hop; return the last screen."""
        assert self.session_id, "dial() first"
        assert inputs, "type at least one input"
        for value in inputs:
            self.inputs.append(value)
            screen = self._hop()
        return screen

    def retry(self) -> UssdScreen:
        """Send the last hop again, unchanged (an aggregator retry)."""
        return self._hop()

    def post(
        self,
        form: Mapping[str, str] | bytes,
        content_type: str | None = "application/x-www-form-urlencoded",
    ) -> UssdScreen:
        """POST a form (or raw bytes; content_type=None sends none) and return the answer."""
        data: dict[str, str] | bytes = form if isinstance(form, bytes) else dict(form)
        response = self.client.post(self.url, data=data, content_type=content_type)
        raw = response.get_data(as_text=True)
        kind, _, body = raw.partition(" ")
        screen = UssdScreen(kind, body, response.status_code, response.content_type or "")
        self.last = screen
        return screen

    def _hop(self) -> UssdScreen:
        return self.post(
            {
                "sessionId": self.session_id,
                "serviceCode": self.service_code,
                "phoneNumber": self.phone,
                "networkCode": self.network_code,
                "text": self.text,
            }
        )


@pytest.fixture
def ussd(client: FlaskClient) -> UssdPhone:
    """Return a phone that dials and types through /ussd/africastalking like the aggregator."""
    return UssdPhone(client)


# --- the outside world, faked on 127.0.0.1 so the real client code runs -------------------

FAKE_AT_KEY = "test-api-key"


@pytest.fixture
def fake_at() -> Iterator[FakeAfricasTalking]:
    """Serve the fake Africa's Talking API on a free port of 127.0.0.1."""
    fake = FakeAfricasTalking(api_key=FAKE_AT_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_daraja() -> Iterator[FakeDaraja]:
    """Yield a running fake Daraja."""
    fake = FakeDaraja().start()
    yield fake
    fake.stop()


@pytest.fixture
def live() -> Iterator[LiveServer]:
    """Yield our app's future address, served once the app is built."""
    server = LiveServer().start()
    yield server
    server.stop()
