"""Receipts are never lost and can be found again: by SMS (they are essential), on the
"already paid" screens, under USSD "My payments", by SMS `RECU` with or without a code, and
on every channel with the code typed with or without its dashes."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest
from rq import Queue, SimpleWorker

import runtime
from payments.receipts import normalize
from runtime import keys
from sms.preferences import Preferences
from sms.providers.console import read_outbox
from sms.queues import SMS_QUEUE
from tests.conftest import UssdPhone
from tests.payments.conftest import SANDBOX_PHONE, Payments
from text.encoding import cost

AGENT = {"Authorization": "Bearer demo-agent-key"}
_CODE = re.compile(r"\b\d{4}-\d{4}-\d{2,4}(?:-\d{1,4})*\b")


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """One SMS a day per phone: the receipts must still all arrive."""
    return {**app_config, "sms_daily_budget": 1}


def run_sms(payments: Payments) -> None:
    """Work the sms queue (inbound replies, deliveries) with a real rq worker."""
    queue = Queue(keys.queue(SMS_QUEUE), connection=payments.redis)
    SimpleWorker([queue], connection=payments.redis).work(burst=True)


def inbox(payments: Payments, phone: str = SANDBOX_PHONE) -> list[str]:
    """Return what the phone received, oldest first."""
    return [e.text for e in reversed(read_outbox(payments.redis, phone=phone, limit=500))]


def pay(payments: Payments, amount: int, phone: str = SANDBOX_PHONE) -> str:
    """Pay a new road-tax assessment of `amount` from `phone`; return its receipt code."""
    result = payments.start(amount, phone=phone)
    assert result.intent is not None
    payments.work()
    code = payments.intent(result.intent.id).receipt_code
    assert code is not None
    return code


def text_in(payments: Payments, body: str, ident: str, phone: str = SANDBOX_PHONE) -> str:
    """Send an inbound SMS, run the jobs, return the reply."""
    answer = payments.app.test_client().post(
        "/sms/africastalking/inbound", data={"from": phone, "text": body, "id": ident}
    )
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "accepted"}  # else no reply job was queued
    run_sms(payments)
    return inbox(payments, phone)[-1]


def test_two_taxes_paid_with_a_budget_of_one_sms_both_receipts_arrive(
    payments: Payments,
) -> None:
    runtime.current().get(Preferences).set_opted_out(SANDBOX_PHONE, True)  # STOP too
    first, second = pay(payments, 25000), pay(payments, 31000)
    run_sms(payments)
    received = inbox(payments)
    assert len(received) == 2
    assert first in received[0] and "25 000 CDF" in received[0]
    assert second in received[1] and "31 000 CDF" in received[1]
    assert all("Taxe de voirie" in text for text in received)


def test_recu_without_a_code_answers_the_latest_three_codes_in_one_segment(
    payments: Payments,
) -> None:
    assert text_in(payments, "RECU", "none").startswith("Guichet: aucune quittance")
    codes = [pay(payments, 20000 + i * 1000) for i in range(4)]
    other = pay(payments, 40000, phone="+243990000002")  # another phone's receipt
    reply = text_in(payments, "recu", "latest")
    assert _CODE.findall(reply) == [codes[3], codes[2], codes[1]]  # newest first, 3 at most
    assert other not in reply
    assert cost(reply).sms_segments == 1


@pytest.mark.parametrize("typed", ["{grouped}", "{digits}", "{spaced}"])
def test_recu_with_a_code_names_the_tax_and_the_city_date(payments: Payments, typed: str) -> None:
    code = pay(payments, 27000)
    digits = normalize(code) or ""
    shown = typed.format(grouped=code, digits=digits, spaced=code.replace("-", " "))
    reply = text_in(payments, f"RECU {shown}", f"check-{len(shown)}")
    assert reply.startswith(f"Guichet: code {code} VALIDE: 27000 CDF, Taxe de voirie")
    assert re.search(r"le \d{2}/\d{2}/\d{4}\.$", reply), reply
    assert "road" not in reply and not re.search(r"\d{4}-\d{2}-\d{2}", reply)
    runtime.current().get(Preferences).set_language(SANDBOX_PHONE, "sw")
    swahili = text_in(payments, f"RISITI {shown}", f"sw-{len(shown)}")
    assert "Kodi ya barabara" in swahili and "HALALI" in swahili


def test_the_agents_api_accepts_codes_with_dashes_or_spaces(payments: Payments) -> None:
    code = pay(payments, 28000)
    client = payments.app.test_client()
    for typed in (code, normalize(code) or "", code.replace("-", " ")):
        answer = client.get(f"/api/v1/receipts/{urllib.parse.quote(typed)}", headers=AGENT)
        assert answer.status_code == 200, typed
        assert answer.get_json()["code"] == code and answer.get_json()["amount"] == 28000


def test_ussd_receipt_check_accepts_the_code_as_printed(
    payments: Payments, ussd: UssdPhone
) -> None:
    code = pay(payments, 29000)
    for typed in (code, code.replace("-", " "), normalize(code) or ""):
        ussd.dial()
        ussd.type("5")
        screen = ussd.type(typed)
        assert screen.end and f"Quittance {code} VALIDE" in screen.body, screen.body
        assert "29 000 CDF, Taxe de voirie" in screen.body
    ussd.dial()
    ussd.type("5")
    screen = ussd.type("4827-19")  # too short, dashes or not: the rule says digits
    assert not screen.end and "10 à 24 chiffres" in screen.body


def test_my_payments_lists_this_phones_receipts_newest_first_and_opens_each(
    payments: Payments, ussd: UssdPhone
) -> None:
    ussd.dial(SANDBOX_PHONE)
    assert ussd.type("6").end and "Aucun paiement" in (ussd.last.body if ussd.last else "")
    codes = [pay(payments, 21000 + i * 1000) for i in range(7)]
    pay(payments, 50000, phone="+243990000002")
    ussd.dial(SANDBOX_PHONE)
    first_page = ussd.type("6")
    assert not first_page.end and first_page.body.startswith("Mes paiements")
    lines = first_page.body.split("\n")
    assert lines[1].startswith("1. ") and "27 000 Taxe de voirie" in lines[1]  # the newest
    assert "50 000" not in first_page.body
    assert "98." in first_page.body  # seven receipts do not fit one screen: paged
    opened = ussd.type("1")
    assert not opened.end
    assert opened.body.startswith("Taxe de voirie\n27 000 CDF, réf.")
    assert re.search(r"Payé le \d{2}/\d{2}/\d{4}\n", opened.body)
    assert f"Quittance: {codes[-1]}" in opened.body
    back = ussd.type("0")
    assert back.body == first_page.body
    second_page = ussd.type("98")
    assert "21 000" in second_page.body  # the oldest, on a later page
    fresh(ussd)
    ussd.type("6")
    assert ussd.type("2").body.count(codes[-2]) == 1


@pytest.mark.parametrize("lang", ["fr", "en", "sw"])
def test_my_payments_screens_fit_in_every_language(
    payments: Payments, ussd: UssdPhone, lang: str
) -> None:
    for i in range(5):
        pay(payments, 127500 + i * 100)
    runtime.current().get(Preferences).set_language(SANDBOX_PHONE, lang)
    ussd.dial(SANDBOX_PHONE)
    screens = [ussd.type("6")]
    while "98." in screens[-1].body:
        screens.append(ussd.type("98"))
    ussd.type("1")
    screens.append(ussd.last)  # type: ignore[arg-type]
    for screen in screens:
        measured = cost(screen.body)
        assert measured.units <= (182 if measured.is_gsm7 else 80), (lang, screen.body)
    assert len(screens) >= 2


def test_the_already_paid_screens_show_the_receipt_code(
    payments: Payments, ussd: UssdPhone
) -> None:
    found = payments.backend.find_assessment("road", "100001")
    assert found is not None
    # A session reaches the operator choice; meanwhile the tax is paid from elsewhere.
    ussd.dial(SANDBOX_PHONE)
    ussd.type("1", "1", "100001", "1")
    code = pay_assessment(payments, found.id)
    screen = ussd.type("2")
    assert screen.end and f"Quittance: {code}" in screen.body, screen.body
    # Later the lookup itself says paid, with the code.
    ussd.dial(SANDBOX_PHONE)
    screen = ussd.type("1", "1", "100001")
    assert screen.end and "déjà payée" in screen.body and f"Quittance: {code}" in screen.body
    # Paid at the counter (seeded paid, no receipt of ours): paid, no code.
    ussd.dial(SANDBOX_PHONE)
    screen = ussd.type("1", "1", "100002")
    assert screen.end and "déjà payée" in screen.body and "Quittance" not in screen.body


def fresh(ussd: UssdPhone) -> None:
    """Dial again; when the last session was left open, start over."""
    screen = ussd.dial(SANDBOX_PHONE)
    if "interrompue" in screen.body:
        ussd.type("2")


def pay_assessment(payments: Payments, assessment_id: str) -> str:
    """Pay an existing assessment from another session; return its receipt code."""
    found = payments.backend.get_assessment(assessment_id)
    assert found is not None
    result = payments.start(found)
    assert result.intent is not None
    payments.work()
    code = payments.intent(result.intent.id).receipt_code
    assert code is not None
    return code
