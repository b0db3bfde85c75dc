"""The simulator in a real headless Chromium: dial, walk to END, watch the SMS arrive, go back.

The gateway runs as a real HTTP server; the page speaks Africa's Talking's protocol to it; a
real rq worker (burst mode, in this process, so it shares the test's container) sends the SMS
through the console provider. With GUICHET_UPDATE_SCREENSHOTS=1 the screenshots also refresh
the committed copies in docs/img/ that the README shows.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from rq import SimpleWorker

from gateway.queues import QueueNames
from menus.model import MenuSpec
from runtime import keys
from tests.live_server import LiveServer

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

    def answer(self, text: str) -> str:
        """Type `text` in the answer field (letters too, as a phone's multi-tap does), send."""
        self.page.fill("#reply", text)
        return self.send()

    def send(self, keys: str = "") -> str:
        """Type `keys` on the keypad, press call, and return the next screen."""
        self.press(keys)
        # Dialling starts a new call, and a new call starts an empty log.
        before = 0 if self.kind() in {"idle", "END"} else self.page.locator("#log li").count()
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
        self.page.evaluate("window.scrollTo(0, 0)")  # the growing log scrolls the page down
        self.page.screenshot(path=str(path))
        if os.environ.get("GUICHET_UPDATE_SCREENSHOTS") == "1":
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_IMG / path.name)
        return path


def run_worker(redis_url: str) -> None:
    """Run every queued job once, as the production worker would."""
    connection = redis.Redis.from_url(redis_url)
    try:
        SimpleWorker([keys.queue(n) for n in QueueNames.all()], connection=connection).work(
            burst=True, with_scheduler=True
        )
    finally:
        connection.close()


def wait_for_sms(phone: Phone, redis_url: str, *, attempts: int = 40) -> str:
    """Work the queues until the outbox panel shows an SMS; return its text."""
    for _ in range(attempts):
        run_worker(redis_url)
        try:
            phone.page.wait_for_selector("#outbox li.sms", timeout=500)
        except PlaywrightTimeoutError:
            continue  # a payment push waits a few seconds in the scheduler
        text: str = phone.page.locator("#outbox li.sms pre").first.text_content()
        return text
    pytest.fail("no SMS reached the outbox panel")


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
    phone.shot("simulator-home")
    invalid = phone.send("77")
    assert "invalide" in invalid
    phone.page.keyboard.press("Escape")
    assert phone.kind() == "idle"
    log = phone.page.locator("#log").text_content()
    assert 'text=""' in log and 'text="77"' in log


def test_every_protocol_of_the_picker_walks_the_menu(phone: Phone) -> None:
    service_code = phone.page.locator("main.sim").get_attribute("data-service-code")
    protocols = phone.page.locator("#protocol option").evaluate_all("els => els.map(e => e.value)")
    assert protocols == ["africastalking", "hubtel", "nalo", "arkesel", "generic"]
    for protocol in protocols:
        phone.page.select_option("#protocol", protocol)
        assert phone.kind() == "idle"  # a new protocol hangs up
        first = phone.send(service_code)
        if protocol != protocols[0]:
            # The phone's previous call was dropped on the taxes menu: it is offered again,
            # whichever aggregator carried it (the snapshot is the phone's).
            assert "1. Continuer" in first, protocol
            first = phone.send("2")
        assert first.startswith("Guichet"), protocol
        assert "invalide" in phone.send("77"), protocol
        assert phone.kind() == "CON"
        tax = phone.send("1")  # the latest answer, not "77*1": each protocol's own input
        assert phone.kind() == "CON" and "Taxe" in tax, protocol
    log = phone.page.locator("#log").text_content()
    assert '"SessionId"' not in log and "SESSIONID=" in log  # the last call spoke `generic`


def test_language_and_map(phone: Phone, live_server: LiveServer) -> None:
    phone.page.select_option("#language", "en")
    phone.page.wait_for_function(
        "document.getElementById('settings-status').textContent.includes('saved')",
        timeout=WAIT_MS,
    )
    service_code = phone.page.locator("main.sim").get_attribute("data-service-code")
    assert "Help" in phone.send(service_code)
    phone.shot("simulator-english")
    phone.page.goto(f"{live_server.url}/simulator/map")
    assert phone.page.locator("svg.menu-map g.node").count() >= 3
    phone.shot("menu-map")


DEMO_TAX_REFERENCE = "100001"  # cities/<id>/catalogue.yaml: unpaid, one assessment per tax


def test_pay_a_tax_and_receive_the_receipt(
    phone: Phone, live_server: LiveServer, redis_url: str
) -> None:
    spec = live_server.app.extensions["guichet"].get(MenuSpec)
    # A renamed screen fails here (key_to says which), never skips the walkthrough.
    pay_key = key_to(spec, spec.start, "tax_choose")
    home = phone.send(spec.service_code)
    phone.shot("walkthrough-1-home")
    choose = phone.send(pay_key)
    assert choose != home
    phone.shot("walkthrough-2-choose-tax")
    phone.send("1")
    screen = phone.send(DEMO_TAX_REFERENCE)
    phone.shot("walkthrough-3-amount")
    # Confirm, then the first mobile-money operator: "1" until the session ends.
    for _ in range(4):
        if phone.kind() != "CON":
            break
        screen = phone.send("1")
    assert phone.kind() == "END", screen
    assert screen.strip()
    receipt = wait_for_sms(phone, redis_url)
    assert receipt.strip()
    phone.shot("walkthrough-4-receipt-sms")

    # Back: dial again, open the tax list, press 0: the home screen comes back.
    phone.page.keyboard.press("Escape")
    again = phone.send(spec.service_code)
    phone.send(pay_key)
    assert phone.send("0") == again

    # Find the receipt again: "My payments" lists it, opening it shows the code.
    code = re.search(r"\b\d{4}-\d{4}-[\d-]+\b", receipt)
    assert code is not None, receipt
    phone.page.keyboard.press("Escape")
    phone.send(spec.service_code)
    mine = phone.send(key_to(spec, spec.start, "my_payments"))
    assert re.search(r"^1\. \d{2}/\d{2}/\d{4} 26 500 Taxe de voirie$", mine, re.MULTILINE), mine
    opened = phone.send("1")
    assert phone.kind() == "CON" and f"Quittance: {code.group(0)}" in opened
    phone.shot("walkthrough-receipt-found-again")
    assert phone.send("0") == mine  # 0: back to the list


def wait_for_sms_with(phone: Phone, redis_url: str, needle: str, *, attempts: int = 20) -> str:
    """Work the queues until the outbox panel shows an SMS containing `needle`; return it."""
    selector = f"#outbox li.sms pre:has-text({needle!r})"
    for _ in range(attempts):
        run_worker(redis_url)
        try:
            phone.page.wait_for_selector(selector, timeout=1_500)  # the panel polls each second
        except PlaywrightTimeoutError:
            continue
        text: str = phone.page.locator(selector).first.text_content()
        return text
    pytest.fail(f"no SMS with {needle!r} reached the outbox panel")


def key_to(spec: MenuSpec, screen: str, target: str) -> str:
    """Return the key of `screen`'s option that leads to `target`; fail saying which is missing."""
    assert screen in spec.screens, f"menus.yaml has no screen {screen!r}"
    keys = [o.key for o in spec.screens[screen].options if o.next == target]
    assert keys, f"no option of {screen!r} leads to {target!r} (renamed?)"
    return keys[0]


# A ready decision names an office; the citizen reads its name, address and hours.
OFFICE = "townhall"
PICKUP = "Mairie de Goma, état civil, Bd Kanyamuhanga, guichet 2, lun-ven 8h-15h"


def test_request_a_document_follow_it_and_see_it_ready(
    phone: Phone, live_server: LiveServer, redis_url: str
) -> None:
    spec = live_server.app.extensions["guichet"].get(MenuSpec)
    # Request a birth certificate: the first document of the demo city.
    phone.send(spec.service_code)
    phone.send(key_to(spec, spec.start, "doc_choose"))
    shown = phone.send("1")
    assert "5 000 CDF" in shown  # the fee and what to provide
    phone.shot("walkthrough-5-document")
    # Continue: the birth certificate needs no name or ID number, so its dossier starts.
    assert "Nom complet de l'enfant" in phone.send("1")
    assert "Date de naissance" in phone.answer("Neema Kahindo")
    phone.shot("walkthrough-5b-dossier")
    phone.answer("14/02/2019")
    phone.answer("Goma")
    phone.send("97")  # the father's name is optional
    summary = phone.answer("Furaha Kahindo")
    assert "Neema Kahindo, 14/02/2019, Goma" in summary
    phone.send("1")  # the summary is right
    operators = phone.send("1")  # confirm: the fee is paid by mobile money
    assert "5 000 CDF" in operators
    done = phone.send("1")  # the first operator
    assert phone.kind() == "END", done
    match = re.search(r"\b(\d{8})\b", done)
    assert match is not None, done
    reference = match.group(1)
    phone.shot("walkthrough-6-request-sent")
    receipt = wait_for_sms_with(phone, redis_url, reference)  # the fee's receipt
    assert "5000" in receipt.replace(" ", "") or "5 000" in receipt
    phone.shot("walkthrough-6b-fee-receipt")

    # Track it: "My requests" lists this phone's requests, newest first.
    phone.page.keyboard.press("Escape")
    phone.send(spec.service_code)
    phone.send(key_to(spec, spec.start, "track_menu"))
    mine = phone.send(key_to(spec, "track_menu", "my_requests"))
    assert f"1. {reference}" in mine
    phone.shot("walkthrough-7-my-requests")
    status = phone.send("1")
    assert phone.kind() == "CON" and reference in status  # 0 goes back to the list

    # An agent moves it to ready through the agents' API, as the README's curl lines do.
    api = f"{live_server.url}/api/v1/requests/{reference}/decision"
    auth = {"Authorization": "Bearer demo-agent-key"}
    for body in (
        {"decision": "in_review"},
        {"decision": "approve"},
        {"decision": "ready", "office": OFFICE},
    ):
        answer = requests.post(api, json=body, headers=auth, timeout=10)
        assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ready_for_pickup"
    alert = wait_for_sms_with(phone, redis_url, PICKUP)  # the "ready" alert
    assert reference in alert

    # The phone now says where and when to collect it.
    phone.page.keyboard.press("Escape")
    if "interrompue" in phone.send(spec.service_code):
        phone.send("2")  # the tracking screen was left open: start over
    phone.send(key_to(spec, spec.start, "track_menu"))
    phone.send(key_to(spec, "track_menu", "track_ref"))
    ready = phone.send(reference)
    assert phone.kind() == "CON" and "Mairie de Goma, état civil" in ready
    phone.shot("walkthrough-8-ready")
