"""A day at the town hall in a real headless Chromium: the assisted counter and a broadcast.

An agent files a birth certificate request for a citizen standing at the counter: the
citizen's phone gets a code (read here from the console SMS provider's outbox, as the
citizen would read their screen), the agent types it, the request is filed and the citizen
gets the same alert as if they had dialled. A supervisor then sends a notice to a list and
watches the progress bar fill while a real rq worker (burst mode, in this process: the
browser keeps polling on its own) sends it. With GUICHET_UPDATE_SCREENSHOTS=1 the
screenshots also refresh the README's copies in docs/img/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from civic.ports import Backend, RequestStatus
from payments.store import PaymentStore
from tests.browser.test_simulator import DOCS_IMG, run_worker
from tests.live_server import LiveServer

pytestmark = pytest.mark.browser

ATTEMPTS = 40
CITIZEN = "+243810000901"
SHOT_SIZE = {"width": 1000, "height": 640}
RECIPIENTS = 30


def shot(page: Any, artifacts: Path, name: str) -> None:
    """Save a viewport screenshot (small) and, when asked, the README's copy."""
    path = artifacts / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path))
    if os.environ.get("GUICHET_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / path.name)


def outbox(server: LiveServer, redis_url: str, phone: str, needle: str) -> str:
    """Work the queues until the phone's outbox holds an SMS matching `needle`; return it."""
    pattern = re.compile(needle)
    for _ in range(ATTEMPTS):
        run_worker(redis_url)
        answer = requests.get(f"{server.url}/simulator/outbox?phone={quote(phone)}", timeout=5)
        for message in answer.json()["messages"]:
            if pattern.search(message["text"]):
                return str(message["text"])
    pytest.fail(f"no SMS matching {needle!r} reached {phone}")


def login(page: Any, server: LiveServer, email: str) -> None:
    """Log in through the form, as a person does."""
    page.context.clear_cookies()
    page.goto(f"{server.url}/console/login")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill("demo-password")
    with page.expect_navigation():
        page.get_by_role("button", name="Se connecter").click()


def test_an_agent_files_an_assisted_request_with_the_citizens_code(
    browser: Any, live_server: LiveServer, redis_url: str, artifacts: Path
) -> None:
    assert live_server.app is not None
    backend: Backend = live_server.app.extensions["guichet"].get(Backend)
    page = browser.new_page()
    page.set_viewport_size(SHOT_SIZE)
    try:
        login(page, live_server, "agent@demo.city")
        page.get_by_role("link", name="Guichet assisté").click()
        page.get_by_label("Document ou démarche").select_option("birth")
        with page.expect_navigation():
            page.locator("#counter-request").get_by_role("button", name="Continuer").click()
        page.get_by_label("Téléphone du citoyen").fill("0810000901")
        page.get_by_label("Nom complet de l'enfant").fill("Amani Kahindo")
        page.get_by_label("Date de naissance").fill("12/03/2020")
        page.get_by_label("Lieu de naissance").fill("Goma")
        page.get_by_label("Nom de la mère").fill("Neema Kahindo")
        shot(page, artifacts, "console-counter")
        page.get_by_role("button", name="Envoyer le code au citoyen").click()
        page.locator("#code-sent").wait_for()
        assert "+243 81" in page.locator("#summary").inner_text()  # masked, as everywhere
        sms = outbox(live_server, redis_url, CITIZEN, r"code \d{6} pour accepter")
        code = re.search(r"code (\d{6}) pour accepter", sms)
        assert code is not None
        page.get_by_label("Code lu par le citoyen").fill(code.group(1))
        shot(page, artifacts, "console-counter-code")
        page.get_by_role("button", name="Déposer la demande").click()
        notice = page.locator("#notice")
        notice.wait_for()
        filed = backend.list_requests(owner_phone=CITIZEN)
        assert len(filed) == 1 and filed[0].status is RequestStatus.SUBMITTED
        reference = filed[0].reference
        assert f"Demande {reference} déposée" in notice.inner_text()
        # From now on the citizen hears about it as if they had dialled: the request's alert.
        assert outbox(live_server, redis_url, CITIZEN, reference)
    finally:
        page.close()


# A morning of calls: (keys typed after dialling, how AT says the session ended).
CALLS = [
    (["1", "1"], "Incomplete"),
    (["1"], "Incomplete"),
    (["1", "1", "1"], "Incomplete"),
    (["2"], "Incomplete"),
    (["2", "1"], "Incomplete"),
    (["2", "1", "1"], "Incomplete"),
    ([], "Success"),
]


def _a_day_of_ussd(server: LiveServer) -> None:
    """Callers dial and leave at different screens (the funnel has something to show)."""
    for number, (keys, status) in enumerate(CALLS):
        session = f"ATUid_day{number}"
        for hop in range(len(keys) + 1):
            requests.post(
                f"{server.url}/ussd/africastalking",
                data={
                    "sessionId": session,
                    "serviceCode": "*384*12#",
                    "phoneNumber": CITIZEN,
                    "text": "*".join(keys[:hop]),
                },
                timeout=5,
            )
        requests.post(
            f"{server.url}/ussd/africastalking/events",
            data={"sessionId": session, "status": status, "phoneNumber": CITIZEN},
            timeout=5,
        )


def test_a_supervisor_runs_a_broadcast_and_watches_it_finish(
    browser: Any, live_server: LiveServer, redis_url: str, artifacts: Path
) -> None:
    assert live_server.app is not None
    reviews = live_server.app.extensions["guichet"].get(PaymentStore).reviews
    reviews.add_review(
        dedupe_key="day:1",
        provider="sandbox",
        reason="contradicted_by_status_query",
        detail="callback said paid, the status query said failed",
    )
    _a_day_of_ussd(live_server)
    page = browser.new_page()
    page.set_viewport_size(SHOT_SIZE)
    try:
        login(page, live_server, "supervisor@demo.city")
        page.get_by_role("link", name="Paiements").click()
        page.locator("#reviews").wait_for()
        shot(page, artifacts, "console-payments")
        page.get_by_role("link", name="Abandons USSD").click()
        page.locator("svg.funnel-chart").first.wait_for()
        shot(page, artifacts, "console-funnel")
        page.get_by_role("link", name="SMS").click()
        page.get_by_role("link", name="Diffusions").click()
        page.get_by_label("Modèle d'avis").select_option("notice_tax_deadline")
        page.get_by_label("Paramètres communs").fill(
            "tax=Impôt foncier\ndate=31/12/2025\nshort_code=*384*12#"
        )
        rows = "\n".join(f"+2438100010{n:02d}" for n in range(RECIPIENTS))
        page.get_by_label("Liste (CSV collé)").fill(f"phone\n{rows}\n")
        with page.expect_navigation():
            page.get_by_role("button", name="Lancer la diffusion").click()
        bar = page.locator("#bar")
        assert bar.get_attribute("max") == str(RECIPIENTS)
        assert bar.get_attribute("value") == "0"
        # Mark this page: a reload would lose the mark, the script's updates keep it.
        page.evaluate("window.guichetMark = 'same page'")
        run_worker(redis_url)  # the broadcast job runs here; the page polls meanwhile
        # The page's CSP refuses eval, so wait on the DOM the script changes.
        page.locator('#broadcast[data-state="done"]').wait_for(timeout=10_000)
        assert page.evaluate(
            "[document.getElementById('bar').value, document.getElementById('bar').max]"
        ) == [RECIPIENTS, RECIPIENTS]
        assert page.evaluate("window.guichetMark") == "same page"
        assert page.locator("#done").inner_text() == str(RECIPIENTS)
        assert page.locator("#queued").inner_text() == str(RECIPIENTS)
        assert page.locator("#state").inner_text() == "terminée"
        assert page.locator("#stop-form").is_hidden()
        shot(page, artifacts, "console-broadcast")
        # The message log now counts the notice, sent by the console provider.
        page.get_by_role("link", name="SMS", exact=True).click()
        rates = page.locator("#sms-rates")
        assert "notice_tax_deadline" in rates.inner_text()
        shot(page, artifacts, "console-sms")
    finally:
        page.close()
    last = f"+2438100010{RECIPIENTS - 1:02d}"
    answer = requests.get(f"{live_server.url}/simulator/outbox?phone={quote(last)}", timeout=5)
    assert any("foncier" in m["text"] for m in json.loads(answer.text)["messages"])
