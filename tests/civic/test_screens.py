"""Screens with context: my requests with statuses and a way back, direct dial strings,
gentle page keys, counter visits announced, agents' long words paged, in every language."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask

import runtime
from civic.ports import Backend, Decision
from civic.seed import seed_demo
from gateway.schema import MIGRATIONS, run_steps
from tests.conftest import UssdPhone

OWNER = "+243810000001"
LINE = re.compile(r"^(\d+)\. (\d{8}) ([^:]+): (.+)$")


@pytest.fixture
def city(app: Flask, app_config: dict[str, Any]) -> Backend:
    run_steps(MIGRATIONS, app_config["database_url"], io.StringIO())
    seed_demo(app_config["database_url"])
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    return backend


def _lines(body: str) -> list[re.Match[str]]:
    return [m for m in (LINE.match(line) for line in body.splitlines()) if m]


def test_my_requests_show_a_status_per_line_and_0_goes_back_to_the_list(
    city: Backend, ussd: UssdPhone
) -> None:
    ussd.dial()
    first_page = ussd.type("3", "2")
    lines = _lines(first_page.body)
    assert lines, first_page.body
    statuses = {m.group(2): m.group(3) for m in lines}
    assert statuses["10000127"] == "en examen"  # the newest seeded: a correction, in review
    assert statuses["10000116"] == "RDV requis"  # an electoral registration, appointment needed
    presses = 3  # 3, 2 and, per request, its key then 0
    seen = 0
    for match in lines:
        opened = ussd.type(match.group(1))
        assert not opened.end and f"Demande {match.group(2)} " in opened.body
        back = ussd.type("0")
        presses += 2
        seen += 1
        assert back.body == first_page.body  # the same list, the same page
    assert seen == len(lines) and presses == 3 + 2 * len(lines)


@pytest.mark.parametrize(
    ("lang_key", "status"),
    [("2", "ready"), ("3", "iko tayari")],
)
def test_my_requests_statuses_in_english_and_swahili(
    city: Backend, ussd: UssdPhone, lang_key: str, status: str
) -> None:
    ussd.dial()
    ussd.type("9", lang_key)
    pages = [ussd.type("3", "2")]
    while "\n98. " in pages[-1].body:
        pages.append(ussd.type("98"))
    lines = [m for page in pages for m in _lines(page.body)]
    assert {m.group(2): m.group(3) for m in lines}["10000057"] == status


def test_98_on_a_one_page_list_is_a_gentle_re_prompt_not_an_invalid_try(
    city: Backend, ussd: UssdPhone
) -> None:
    ussd.dial()
    menu = ussd.type("3")  # track_menu: one page
    for _ in range(5):  # five times: three invalid tries would have ended the session
        again = ussd.type("98")
        assert not again.end
        assert again.body.startswith("Pas d'autre page.\n")
        assert again.body.endswith(menu.body)
    assert "99" not in ussd.type("99").body.splitlines()[0]
    assert not ussd.type("99").end
    assert "Mes demandes" in ussd.type("0", "3").body


def test_98_on_the_last_page_keeps_the_page(city: Backend, ussd: UssdPhone) -> None:
    ussd.dial()
    ussd.type("4")  # the guide's six documents take two pages
    last = ussd.type("98")
    again = ussd.type("98")
    assert again.body == "Pas d'autre page.\n" + last.body
    assert not again.end


@pytest.mark.parametrize(
    ("service_code", "text", "expected"),
    [
        ("*384*12*1#", "", "Choisissez la taxe"),  # extension in the service code
        ("*384*12#", "1", "Choisissez la taxe"),  # Africa's Talking: extension in `text`
        ("*384*12*3*10000057#", "", "Demande 10000057 (Extrait d'acte de naissance)"),
        ("*384*12#", "3*10000057", "Demande 10000057 (Extrait d'acte de naissance)"),
        ("*384*12*3*2#", "", "Mes demandes"),
    ],
)
def test_a_dial_string_walks_its_path(
    city: Backend, ussd: UssdPhone, service_code: str, text: str, expected: str
) -> None:
    ussd.service_code = service_code
    ussd.session_id = "ATUid_direct_" + re.sub(r"\W", "", service_code + text)
    ussd.inputs = text.split("*") if text else []
    first = ussd._hop()  # the first hop, as the aggregator sends it
    assert not first.end and expected in first.body
    # The next hop's text extends the first one: the engine reads only the new part, and 0
    # goes back one screen along the walked path.
    back = ussd.type("0")
    assert not back.end and back.body != first.body


def test_a_dial_string_for_someone_elses_reference_is_the_unknown_answer(
    city: Backend, ussd: UssdPhone
) -> None:
    ussd.phone = "+243990000123"
    ussd.service_code = "*384*12*3*10000057#"
    ussd.session_id = "ATUid_direct_stranger"
    ussd.inputs = []
    shown = ussd._hop()
    assert "Aucune demande ne porte la référence 10000057" in shown.body


def test_counter_visits_are_announced_in_the_guide_and_the_confirm_screen(
    city: Backend, ussd: UssdPhone
) -> None:
    # The SMS side (the fee receipt says it too): tests/payments/test_request_fees.py.
    ussd.dial()
    docs = ussd.type("4")
    key = next(m.split(".")[0] for m in docs.body.splitlines() if "résidence" in m)
    ussd.type(key)
    required = ussd.type("1")
    assert "Passage au guichet requis." in required.body
    counter = ussd.type("1", "1")  # request it, past the fee: what cannot be typed on a phone
    assert "A apporter au guichet" in counter.body
    ussd.type("1", "Himbi", "Avenue du Lac 12")  # its dossier; the identity is on file
    confirm = ussd.type("1")  # the summary is right
    assert "Certificat de résidence" in confirm.body
    assert "Passage au guichet requis." in confirm.body
    # A document without a visit says nothing of the kind (after starting over).
    assert "interrompue" in ussd.dial().body
    guide = ussd.type("2", "4")
    birth = next(m.split(".")[0] for m in guide.body.splitlines() if "naissance" in m)
    assert "Passage" not in ussd.type(birth, "1").body


def test_a_long_reason_is_paged_not_cut_and_free_of_control_characters(
    city: Backend, ussd: UssdPhone
) -> None:
    ref = city.create_request(
        owner_phone=OWNER,
        document_code="birth",
        idempotency_key="long",
        dossier={
            "child_name": "Neema Kahindo",
            "birth_date": "14/02/2019",
            "birth_place": "Goma",
            "mother_name": "Furaha Kahindo",
        },
    )
    free = "Le registre de 1987 est aux archives: revenez dans deux semaines avec le récépissé"[:80]
    city.decide(
        ref.reference,
        Decision.REJECT,
        agent_id="a",
        reason_code="missing_info",
        reason=free + "\x00\u202e",
    )
    ussd.dial()
    shown = ussd.type("3", "1", ref.reference)
    pages = [shown]
    while "\n98. " in pages[-1].body:
        pages.append(ussd.type("98"))
    assert len(pages) >= 2  # no longer cut at 60 characters: paged
    words = " ".join(
        line
        for page in pages
        for line in page.body.splitlines()
        if not re.match(r"^(98|99|0|00|1)\. ", line)
    )
    assert "Informations incomplètes, refaites la demande." in words
    assert " ".join(free.split()) in " ".join(words.split())
    assert "\x00" not in words and "\u202e" not in words
