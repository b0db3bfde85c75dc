"""The civic journeys walked through /ussd/africastalking against a seeded SQLite back office."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue, SimpleWorker

import runtime
from civic import references
from civic.ports import Backend, RequestStatus
from civic.seed import seed_demo
from gateway.schema import MIGRATIONS, run_steps
from runtime import keys
from sms.store import MessageStore
from tests.conftest import UssdPhone

AGENT = {"Authorization": "Bearer demo-agent-key"}
# The birth certificate's dossier, one answer per field screen ("97" skips the father).
BIRTH_ANSWERS = ("Neema Kahindo", "14/02/2019", "Goma", "97", "Furaha Kahindo")


@pytest.fixture
def city(app: Flask, app_config: dict[str, Any]) -> Backend:
    # Every package's tables (the tax journey hands over to payments), then the demo city.
    run_steps(MIGRATIONS, app_config["database_url"], io.StringIO())
    seed_demo(app_config["database_url"])
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    return backend


def _option(screen_body: str, label: str) -> str:
    """Return the key of the line whose label contains `label`."""
    for line in screen_body.splitlines():
        key, _, rest = line.partition(". ")
        if label in rest:
            return key
    raise AssertionError(f"no option {label!r} in:\n{screen_body}")


def _whole(ussd: UssdPhone, first: Any) -> str:
    """Return every page of a paged screen (98 until the last), navigation lines dropped."""
    pages = [first]
    while "\n98. " in pages[-1].body and len(pages) < 12:
        pages.append(ussd.type("98"))
    nav = re.compile(r"^(98|99|0|00)\. ")
    return " ".join(
        line for page in pages for line in page.body.splitlines() if not nav.match(line)
    )


def _run_jobs(redis_client: redis.Redis, *queues: str) -> None:
    SimpleWorker(
        [Queue(keys.queue(q), connection=redis_client) for q in queues], connection=redis_client
    ).work(burst=True)


def test_main_menu_lists_the_civic_journeys(city: Backend, ussd: UssdPhone) -> None:
    home = ussd.dial()
    assert not home.end
    for label in (
        "Payer taxe ou frais",
        "Document, inscription",
        "Suivre une demande",
        "Aide",
        "Langue",
    ):
        assert label in home.body


def test_pay_a_tax_up_to_confirmation(city: Backend, ussd: UssdPhone) -> None:
    ussd.dial()
    taxes = ussd.type("1")
    assert "Taxe de voirie" in taxes.body
    ussd.type(_option(taxes.body, "Taxe de voirie"))
    shown = ussd.type("100001")
    assert not shown.end
    assert "Montant: 26 500 CDF" in shown.body
    assert "31/12/2026" in shown.body and "2026" in shown.body
    operators = ussd.type("1")
    # The payments journey takes over with the session data civic left for it.
    assert not operators.end and "26 500 CDF" in operators.body
    started = ussd.type("1")
    assert started.end and "100001" in started.body


def test_tax_reference_typos_unknown_and_already_paid(city: Backend, ussd: UssdPhone) -> None:
    ussd.dial()
    ussd.type("1", "1")
    bad = ussd.type("12ab")
    assert not bad.end and "Référence invalide" in bad.body
    unknown = ussd.type("999999")
    assert not unknown.end and "introuvable" in unknown.body
    again = ussd.type("1")
    assert "référence" in again.body.lower()
    paid = ussd.type("100002")
    assert paid.end and "déjà payée" in paid.body


def test_request_a_birth_certificate_with_its_dossier_up_to_the_payment_prompt(
    city: Backend, ussd: UssdPhone
) -> None:
    ussd.dial()
    docs = ussd.type("2")
    shown = ussd.type(_option(docs.body, "naissance"))
    assert "Frais: 5 000 CDF" in shown.body and "Noms des parents" in shown.body
    # Birth needs no identity and nothing at the counter: straight to the dossier's fields.
    name = ussd.type("1")
    assert not name.end
    assert name.body.splitlines()[:2] == ["Extrait d'acte de naissance", "Nom complet de l'enfant"]
    refused = ussd.type("12")
    assert "Nom invalide" in refused.body and "Nom complet de l'enfant" in refused.body
    when = ussd.type("Neema  Kahindo")
    assert "Date de naissance (jj/mm/aaaa)" in when.body
    assert "0. Retour" in when.body
    again = ussd.type("0")  # back one field, not out of the form
    assert "Nom complet de l'enfant" in again.body
    ussd.type("Neema Kahindo")
    future = ussd.type("01/01/2099")
    assert "Date invalide" in future.body
    place = ussd.type("14021019")
    assert "Date invalide" in place.body  # 14/02/1019: before 1900
    place = ussd.type("14.02.2019")
    assert "Lieu de naissance" in place.body
    father = ussd.type("Goma")
    assert "Nom du père" in father.body and "97. Passer" in father.body  # optional
    mother = ussd.type("97")
    assert "Nom de la mère" in mother.body and "97." not in mother.body  # required
    summary = ussd.type("Furaha Kahindo")
    assert "Vérifiez: Neema Kahindo, 14/02/2019, Goma, -, Furaha Kahindo" in summary.body
    last = ussd.type("0")  # from the summary back to the last field
    assert "Nom de la mère" in last.body
    ussd.type("Furaha Kahindo")
    confirm = ussd.type("1")
    assert "Confirmer la demande: Extrait d'acte de naissance, frais 5 000 CDF" in confirm.body
    operators = ussd.type("1")
    assert "Payer les frais, 5 000 CDF, avec:" in operators.body
    assert "M-Pesa" in operators.body
    done = ussd.type(_option(operators.body, "M-Pesa"))
    assert done.end
    ref = re.search(r"Demande (\d{8}) enregistrée", done.body)
    assert ref is not None and references.validate(ref.group(1))
    assert "M-Pesa" in done.body and "5 000 CDF" in done.body
    created = city.get_request(ref.group(1))
    assert created is not None and created.document_code == "birth"
    assert created.owner_phone == "+243810000001"
    assert created.status is RequestStatus.AWAITING_PAYMENT
    assert dict(created.dossier) == {
        "child_name": "Neema Kahindo",
        "birth_date": "14/02/2019",
        "birth_place": "Goma",
        "mother_name": "Furaha Kahindo",
    }
    # No "request received" SMS while the fee is unpaid: the receipt will say it.
    store = runtime.current().get(MessageStore)
    assert store.existing(f"request:{ref.group(1)}:1") is None
    # "My requests" lists it first; choosing it offers to pay the fee.
    ussd.dial()
    ussd.type("3")
    mine = ussd.type("2")
    assert mine.body.splitlines()[1].startswith(f"1. {ref.group(1)} à payer: ")
    status = ussd.type("1")
    assert not status.end and "frais de 5 000 CDF à payer" in status.body
    pay = ussd.type("1")
    assert "Payer les frais, 5 000 CDF, avec:" in pay.body
    pending = ussd.type(_option(pay.body, "M-Pesa"))
    assert pending.end and "déjà en cours" in pending.body  # one active intent per request


def _file_birth(ussd: UssdPhone) -> str:
    ussd.dial()
    docs = ussd.type("2")
    ussd.type(_option(docs.body, "naissance"), "1", *BIRTH_ANSWERS, "1", "1")
    return ussd.type("1").body  # the first operator


def test_a_retried_confirm_files_one_request(city: Backend, ussd: UssdPhone) -> None:
    before = len(city.list_requests(owner_phone="+243810000001", limit=100))
    first = _file_birth(ussd)
    again = ussd.retry()
    assert again.body == first
    assert len(city.list_requests(owner_phone="+243810000001", limit=100)) == before + 1


def test_identity_is_asked_when_the_document_needs_it_and_unknown(
    city: Backend, ussd: UssdPhone
) -> None:
    ussd.dial(phone="+243990000007")
    docs = ussd.type("2")
    ussd.type(_option(docs.body, "casier"))
    counter = ussd.type("1")
    assert "A apporter au guichet: Pièce d'identité, acte de naissance, deux photos" in counter.body
    name = ussd.type("1")
    assert "Nom complet" in name.body
    ident = ussd.type("Neema Bahati")
    assert "pièce d'identité" in ident.body
    born = ussd.type("CD-778899")
    assert "Date de naissance" in born.body
    ussd.type("03/07/1990")
    purpose = ussd.type("Bukavu")
    assert "1. Emploi" in purpose.body and "3. Autre" in purpose.body
    assert "Choix invalide" in ussd.type("7").body
    summary = ussd.type("2")
    assert "03/07/1990, Bukavu, Voyage" in summary.body
    confirm = ussd.type("1")
    assert "Extrait de casier judiciaire" in confirm.body
    ussd.type("1")
    done = ussd.type("1")
    ref = re.search(r"(\d{8})", done.body)
    assert ref is not None
    made = city.get_request(ref.group(1))
    assert made is not None and (made.applicant_name, made.id_number) == (
        "Neema Bahati",
        "CD-778899",
    )
    assert made.dossier["purpose"] == "travel"
    known = city.get_citizen("+243990000007")
    assert known is not None and known.name == "Neema Bahati"


def test_known_citizen_is_not_asked_twice(city: Backend, ussd: UssdPhone) -> None:
    ussd.dial()
    docs = ussd.type("2")
    ussd.type(_option(docs.body, "casier"), "1")
    first = ussd.type("1")
    assert "Date de naissance" in first.body  # the demo citizen's name and ID are on file


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("10000012", "Demande 10000012 (Extrait d'acte de naissance): enregistrée, en attente"),
        ("10000020", "Demande 10000020 (Extrait de casier judiciaire): en cours d'examen"),
        (
            "10000036",
            "Demande 10000036 (Certificat de résidence): passez au guichet. "
            "Venez avec l'attestation du chef de quartier",
        ),
        ("10000048", "Demande 10000048 (Extrait d'acte de mariage): approuvée"),
        (
            "10000057",
            "Demande 10000057 (Extrait d'acte de naissance): disponible. A retirer: "
            "Mairie de Goma, état civil, Bd Kanyamuhanga, guichet 2, lun-ven 8h-15h",
        ),
        ("10000061", "Demande 10000061 (Extrait d'acte de décès): document remis"),
        (
            "10000073",
            "Demande 10000073 (Certificat de nationalité): refusée. "
            "Motif: Actes de naissance des parents manquants",
        ),
        ("10000103", "frais de 5 000 CDF à payer"),
    ],
)
def test_track_by_reference_names_document_and_reference(
    city: Backend, ussd: UssdPhone, ref: str, expected: str
) -> None:
    ussd.dial()
    ussd.type("3", "1")
    shown = ussd.type(ref)
    assert not shown.end  # 0 goes back, 1 tracks another one
    assert expected in _whole(ussd, shown)


def test_track_catches_a_mistyped_reference_before_any_lookup(
    city: Backend, ussd: UssdPhone
) -> None:
    ussd.dial()
    ussd.type("3", "1")
    typo = ussd.type("10000021")
    assert not typo.end and "incorrecte" in typo.body
    unknown = ussd.type("1", references.make_reference(9_999_999))
    assert not unknown.end and "Aucune demande" in unknown.body


def test_my_requests_is_paginated(city: Backend, ussd: UssdPhone) -> None:
    ussd.dial()
    ussd.type("3")
    pages = [ussd.type("2")]
    while "98." in pages[-1].body and len(pages) < 10:
        pages.append(ussd.type("98"))
    assert len(pages) > 1
    listed = [
        line.split(" ")[1]
        for page in pages
        for line in page.body.splitlines()
        if re.match(r"^\d+\. \d{8} ", line)
    ]
    assert len(listed) == 12 and len(set(listed)) == 12
    # Any listed request can be picked from its page: the last one is the oldest.
    options = [ln for ln in pages[-1].body.splitlines() if re.match(r"^\d+\. \d{8} ", ln)]
    oldest = ussd.type(options[-1].split(".")[0])
    assert not oldest.end and "en attente d'examen" in oldest.body  # 10000012, the first seeded


def test_my_requests_when_there_are_none(city: Backend, ussd: UssdPhone) -> None:
    ussd.dial(phone="+243990000008")
    ussd.type("3")
    none = ussd.type("2")
    assert none.end and "aucune demande" in none.body


def test_procedure_guide_in_english(city: Backend, ussd: UssdPhone) -> None:
    ussd.dial()
    ussd.type("9", "2")  # language: English
    docs = ussd.type("4")
    assert "Nationality" not in docs.body  # six documents: the list takes two pages
    docs = ussd.type("98")
    guide = ussd.type(_option(docs.body, "Nationality"))
    assert "Fee: 25 000 CDF" in guide.body and "Ready in: 14 days" in guide.body
    assert "Goma peace court" in guide.body
    bring = ussd.type("1")
    assert "Parents' birth certificates" in bring.body
    request = ussd.type("1")
    assert "Required:" in request.body


def test_swahili_track(city: Backend, ussd: UssdPhone) -> None:
    ussd.dial()
    ussd.type("9", "3")
    ussd.type("3", "1")
    shown = ussd.type("10000085")
    whole = _whole(ussd, shown)
    assert "Ombi 10000085 (Cheti cha kuzaliwa): limekataliwa." in whole
    # The coded reason in Swahili, the agent's own words appended as typed.
    assert "Sababu: Taarifa hazijakamilika, omba upya. Nom du père illisible" in whole


def test_back_office_down_is_a_polite_end(app: Flask, ussd: UssdPhone) -> None:
    # Not seeded: the SQLite file has no tables, so every lookup fails.
    ussd.dial()
    down = ussd.type("1")
    assert down.end and "réessayer plus tard" in down.body
    ussd.dial()
    ussd.type("3", "1")
    down = ussd.type("10000012")
    assert down.end and "réessayer plus tard" in down.body


def test_done_walkthrough_agent_moves_the_new_request_to_ready(
    city: Backend, ussd: UssdPhone, app: Flask
) -> None:
    done = _file_birth(ussd)
    ref = re.search(r"(\d{8})", done)
    assert ref is not None
    api = app.test_client()
    # No payment here (tests/payments/test_request_fees.py pays it): the agent waives the fee.
    for body in (
        {"decision": "waive_fee", "reason": "Famille indigente"},
        {"decision": "in_review"},
        {"decision": "approve"},
        {"decision": "ready", "office": "townhall", "pickup": "lundi de préférence"},
    ):
        answer = api.post(f"/api/v1/requests/{ref.group(1)}/decision", json=body, headers=AGENT)
        assert answer.status_code == 200, answer.get_json()
    ussd.dial()
    ussd.type("3", "1")
    shown = ussd.type(ref.group(1))
    assert (
        "A retirer: Mairie de Goma, état civil, Bd Kanyamuhanga, guichet 2, lun-ven 8h-15h. "
        in (_whole(ussd, shown) + " ")
    )
    assert "lundi de préférence" in _whole(ussd, ussd.type("0", "1", ref.group(1)))


@pytest.mark.parametrize(
    ("lang_key", "expected"),
    [
        ("2", ("Child's full name", "Please check: Neema Kahindo", "Pay the fee, 5 000 CDF")),
        ("3", ("Jina kamili la mtoto", "Hakiki: Neema Kahindo", "Lipa ada, 5 000 CDF")),
    ],
)
def test_the_dossier_is_asked_in_the_callers_language(
    city: Backend, ussd: UssdPhone, lang_key: str, expected: tuple[str, str, str]
) -> None:
    first, summary, operators = expected
    ussd.dial()
    ussd.type("9", lang_key)
    docs = ussd.type("2")
    ussd.type(_option(docs.body, "irth") if lang_key == "2" else _option(docs.body, "kuzaliwa"))
    field = ussd.type("1")
    assert first in field.body
    screens = [ussd.type(answer) for answer in BIRTH_ANSWERS]
    assert all(not s.end for s in screens)
    assert summary in screens[-1].body
    ussd.type("1")
    assert operators in ussd.type("1").body


def test_a_dropped_session_resumes_on_the_same_field_with_the_answers_kept(
    city: Backend, ussd: UssdPhone
) -> None:
    ussd.dial()
    docs = ussd.type("2")
    ussd.type(_option(docs.body, "naissance"), "1", "Neema Kahindo")
    offered = ussd.dial()  # the network dropped the call: a new session from the same phone
    assert "interrompue" in offered.body
    resumed = ussd.type("1")
    assert "Date de naissance" in resumed.body
    summary = ussd.type(*BIRTH_ANSWERS[1:])
    assert "Neema Kahindo, 14/02/2019, Goma, -, Furaha Kahindo" in summary.body
