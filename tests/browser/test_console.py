"""The town hall console in a real headless Chromium: log in, work the queue, decide, SMS out.

The agent uses only the keyboard-reachable controls a person would (labels, buttons); a real
rq worker (burst mode, in this process) sends the citizen's alert through the console SMS
provider, whose outbox the simulator serves. With GUICHET_UPDATE_SCREENSHOTS=1 the screenshots
also refresh the README's copies in docs/img/.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from civic.ports import Backend, RequestStatus
from tests.browser.test_simulator import DOCS_IMG, run_worker
from tests.live_server import LiveServer

pytestmark = pytest.mark.browser

ATTEMPTS = 40
REFERENCE = "10000012"  # the demo city's birth certificate, submitted, at the town hall


def shot(page: Any, artifacts: Path, name: str) -> None:
    """Save a screenshot artefact (and the README copy when asked to)."""
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("GUICHET_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / path.name)


def wait_for_alert(page: Any, server: LiveServer, redis_url: str, phone: str) -> str:
    """Work the queues until the outbox holds the citizen's SMS about REFERENCE; return it."""
    for _ in range(ATTEMPTS):
        run_worker(redis_url)
        page.goto(f"{server.url}/simulator/outbox?phone={quote(phone)}")
        messages = json.loads(page.locator("body").inner_text())["messages"]
        found = [m["text"] for m in messages if REFERENCE in m["text"]]
        if found:
            return str(found[0])
        page.wait_for_timeout(250)  # a held message waits a moment in rq's scheduler
    pytest.fail("the citizen's SMS never reached the outbox")


def test_an_agent_logs_in_works_the_queue_decides_and_the_citizen_gets_the_sms(
    browser: Any, live_server: LiveServer, redis_url: str, artifacts: Path
) -> None:
    assert live_server.app is not None
    backend: Backend = live_server.app.extensions["guichet"].get(Backend)
    citizen = backend.get_request(REFERENCE)
    assert citizen is not None and citizen.status == RequestStatus.SUBMITTED
    browser.clear_cookies()
    page = browser.new_page()
    try:
        page.goto(f"{live_server.url}/console/requests")
        assert "/console/login" in page.url  # not logged in: to the login form first
        page.get_by_label("Adresse e-mail").fill("agent@demo.city")
        page.get_by_label("Mot de passe").fill("demo-password")
        shot(page, artifacts, "console-login")
        with page.expect_navigation():
            page.get_by_label("Mot de passe").press("Enter")  # the keyboard submits the form
        assert page.url == f"{live_server.url}/console/requests"
        # The queue, filtered to what waits for a first look.
        page.get_by_label("Statut").select_option("submitted")
        page.get_by_role("button", name="Filtrer").click()
        page.wait_for_url("**/console/requests?status=submitted**")
        shot(page, artifacts, "console-queue")
        page.get_by_role("link", name=REFERENCE).click()
        page.wait_for_url(f"**/console/requests/{REFERENCE}")
        assert page.get_by_role("heading", name=f"Demande {REFERENCE}").is_visible()
        page.get_by_label("mettre en examen").check()
        page.get_by_role("button", name="Décider").click()
        notice = page.locator("#notice")
        notice.wait_for()
        assert "Décision enregistrée : mettre en examen" in notice.inner_text()
        assert page.locator("#status").inner_text() == "en examen"
        assert "agent@demo.city" in page.locator("table.history").inner_text()
        shot(page, artifacts, "console-dossier")
        # The citizen's SMS leaves through the worker and lands in the console outbox.
        assert wait_for_alert(page, live_server, redis_url, citizen.owner_phone)
    finally:
        page.close()
    decided = backend.get_request(REFERENCE)
    assert decided is not None and decided.status == RequestStatus.IN_REVIEW
