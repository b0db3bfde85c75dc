"""The simulator in a real headless Chromium: dial, walk to END, watch the SMS arrive, go back.

The gateway runs as a real HTTP server; the page speaks Africa's Talking's protocol to it; a
real rq worker (burst mode, in this process, so it shares the test's container) sends the SMS
through the console provider. With GUICHET_UPDATE_SCREENSHOTS=1 the screenshots also refresh
the committed copies in docs/img/ that the README shows.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import SimpleWorker

from gateway.queues import QueueNames
from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
WAIT_MS = 5_000


class Phone:
    """The simulator page, operated like a person would: keypad clicks and the keyboard."""

    def __init__(self, page: Any, artifacts: Path) -> None:
        self.page = page
        self.artifacts = artifacts

    def screen(self) -> str:
        """Return the screen exactly as the gateway sent it."""
        text: str = self.page.locator("#screen-text").text_content()
        return text

    def kind(self) -> str:
        """Return CON, END, error or idle."""
        kind: str = self.page.locator("#screen").get_attribute("data-reply") or "idle"
        return kind

    def press(self, keys: str) -> None:
        """Click the keypad buttons for `keys`, one by one."""
        names = {"*": "star", "#": "hash"}
        for key in keys:
            self.page.click(f"#key-{names.get(key, key)}")

    def send(self, keys: str = "") -> str:
        """Type `keys` on the keypad, press call, and return the next screen."""
        self.press(keys)
        before = self.page.locator("#log li").count()
        self.page.click("#key-call")
        # One request line and one answer line per hop.
        self.page.wait_for_function(
            f"document.querySelectorAll('#log li').length >= {before + 2}", timeout=WAIT_MS
        )
        self.page.wait_for_function(
            "document.getElementById('screen').dataset.busy !== 'yes'", timeout=WAIT_MS
        )
        return self.screen()

    def shot(self, name: str) -> Path:
        """Save a screenshot artefact (and the README copy when asked to)."""
        path = self.artifacts / f"{name}.png"
        self.page.screenshot(path=str(path))
        if os.environ.get("GUICHET_UPDATE_SCREENSHOTS") == "1":
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_IMG / path.name)
        return path


def run_worker(redis_url: str) -> None:
    """Run every queued job once, as the production worker would."""
    connection = redis.Redis.from_url(redis_url)
    try:
        SimpleWorker(QueueNames.all(), connection=connection).work(burst=True)
    finally:
        connection.close()


@pytest.fixture
def phone(browser: Any, live_server: LiveServer, artifacts: Path) -> Any:
    """Open the simulator on a fresh page."""
    page = browser.new_page()
    page.goto(f"{live_server.url}/simulator")
    yield Phone(page, artifacts)
    page.close()


def test_dial_answer_and_hang_up(phone: Phone) -> None:
    service_code = phone.page.locator("main.sim").get_attribute("data-service-code")
    first = phone.send(service_code)
    assert phone.kind() == "CON"
    assert first.startswith("Guichet")
    # Whitespace is preserved: the menu keeps its line breaks.
    assert "\n" in first
    counter = phone.page.locator("#counter").text_content()
    assert counter.startswith("GSM-7 · ") and counter.endswith("/182")
    invalid = phone.send("77")
    assert "invalide" in invalid
    phone.page.keyboard.press("Escape")
    assert phone.kind() == "idle"
    log = phone.page.locator("#log").text_content()
    assert 'text=""' in log and 'text="77"' in log
