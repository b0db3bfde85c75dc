"""Registrations and dossiers: kinds of request with their own workflow, filed and followed.

An electoral registration and a correction are filed by USSD ("Register / file a dossier"),
followed by STATUT and on "my requests", and decided through the agents' API with the kind's
workflow from the catalogue (an illegal transition is a 409, appointment_needed texts the
citizen). An association declaration's unpaid file fee refuses ready. `menus lint` catches a
bad workflow.
"""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker

import runtime
from civic.ports import Backend, RequestStatus
from civic.seed import DEMO_CITY, SeedError, seed_demo
from gateway.schema import MIGRATIONS, run_steps
from menus.__main__ import main as menus_main
from menus.lint import lint
from menus.registry import FormField
from menus.validators import field_check
from runtime import keys
from sms.providers.console import read_outbox
from tests.conftest import UssdPhone

AGENT = {"Authorization": "Bearer demo-agent-key"}
MENUS = Path(__file__).resolve().parents[2] / "menus.yaml"
VOTER = "+243990000041"
CORRECTOR = "+243990000042"


@pytest.fixture
def city(app: Flask, app_config: dict[str, Any]) -> Backend:
    run_steps(MIGRATIONS, app_config["database_url"], io.StringIO())
    seed_demo(app_config["database_url"])
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    return backend


def _option(body: str, label: str) -> str:
    for line in body.splitlines():
        key, _, rest = line.partition(". ")
        if label in rest:
            return key
    raise AssertionError(f"no option {label!r} in:\n{body}")


def _run_sms_jobs(redis_client: redis.Redis) -> None:
    SimpleWorker([Queue(keys.queue("sms"), connection=redis_client)], connection=redis_client).work(
        burst=True
    )


def _sms(client: FlaskClient, redis_client: redis.Redis, phone: str, text: str, sms_id: str) -> str:
    """Send `text` from `phone` and return the reply the console provider sent."""
    response = client.post(
        "/sms/africastalking/inbound",
        data={
            "from": phone,
            "to": "12345",
            "text": text,
            "date": "2026-11-30 10:00:00",
            "id": sms_id,
            "linkId": "",
            "networkCode": "63001",
        },
    )
    assert response.status_code == 200 and response.get_json() == {"status": "accepted"}
    _run_sms_jobs(redis_client)
    return read_outbox(redis_client, phone=phone, limit=1)[0].text


def _decide(client: FlaskClient, ref: str, **body: str) -> Any:
    return client.post(f"/api/v1/requests/{ref}/decision", json=body, headers=AGENT)


def _file_electoral(ussd: UssdPhone) -> str:
    ussd.dial(phone=VOTER)
    ussd.type("2")
    more = ussd.type("98")  # the documents' list, second page
    assert "7. S'inscrire / un dossier" in more.body  # after the six documents
    kinds = ussd.type("7")
    # Every kind other than document, and no document delivery.
    for name in ("Inscription électorale", "Dossier de mariage", "Déclaration d'association"):
        assert name in kinds.body
    assert "Extrait d'acte de naissance" not in kinds.body
    ussd.type(_option(kinds.body, "Inscription électorale"))
    counter = ussd.type("1")
    assert "Pièce d'identité originale" in counter.body
    ussd.type("1")  # the applicant's name is asked: this phone is unknown
    ussd.type("Amani Bahati")
    born = ussd.type("CD-112233")
    assert "Date de naissance" in born.body
    ussd.type("03/07/1990")
    summary = ussd.type("Himbi")
    assert "03/07/1990, Himbi" in summary.body
    confirm = ussd.type("1")
    assert "Inscription électorale" in confirm.body
    done = ussd.type("1")
    found = re.search(r"(\d{8})", done.body)
    assert found is not None and done.end, done.body
    return found.group(1)


def test_an_electoral_registration_filed_by_ussd_and_followed(
    city: Backend, ussd: UssdPhone, client: FlaskClient, redis_client: redis.Redis
) -> None:
    ref = _file_electoral(ussd)
    _run_sms_jobs(redis_client)
    created = read_outbox(redis_client, phone=VOTER, limit=1)[0].text
    assert ref in created and "Inscription électorale" in created

    shown = client.get(f"/api/v1/requests/{ref}", headers=AGENT).get_json()
    assert (shown["kind"], shown["status"]) == ("registration", "submitted")
    assert shown["allowed_decisions"] == ["in_review", "reject"]
    assert _decide(client, ref, decision="in_review").status_code == 200

    # ready and needs_visit are a document's decisions, not this kind's from in_review.
    for illegal in ("ready", "needs_visit"):
        refused = _decide(client, ref, decision=illegal, reason_code="id_check", office="townhall")
        assert refused.status_code == 409, refused.get_json()
        body = refused.get_json()
        assert (body["error"], body["status"]) == ("illegal_transition", "in_review")
        assert body["allowed_decisions"] == ["appointment_needed", "approve", "reject"]

    # appointment_needed names one of the kind's reason codes, like reject.
    missing = _decide(client, ref, decision="appointment_needed")
    assert missing.status_code == 400 and "reason_code" in missing.get_json()["errors"]
    wrong = _decide(client, ref, decision="appointment_needed", reason_code="already_registered")
    assert wrong.status_code == 400
    asked = _decide(client, ref, decision="appointment_needed", reason_code="photo_fingerprints")
    assert asked.status_code == 200, asked.get_json()
    assert asked.get_json()["status"] == "appointment_needed"
    assert asked.get_json()["allowed_decisions"] == ["approve", "reject"]

    _run_sms_jobs(redis_client)
    alert = read_outbox(redis_client, phone=VOTER, limit=1)[0].text
    assert "RDV au guichet nécessaire" in alert and f"Suivi: STATUT {ref}." in alert
    assert f"RDV: *384*12# > 3 > {ref} > 1." in alert  # the tracking path, then "book"
    assert "Photo et empreintes à prendre au guichet" in alert and ref in alert

    status = _sms(client, redis_client, VOTER, f"STATUT {ref}", "reg-statut-1")
    assert "RDV au guichet" in status and "Photo et empreintes" in status

    ussd.dial(phone=VOTER)
    ussd.type("3", "1")
    tracked = ussd.type(ref)
    assert "rendez-vous au guichet" in tracked.body and "1. Prendre RDV" in tracked.body
    mine = ussd.type("00", "3", "2")
    assert f"{ref} RDV requis" in mine.body

    # The kind's way on: approve, ready at an office, delivered.
    assert _decide(client, ref, decision="approve").status_code == 200
    ready = _decide(client, ref, decision="ready", office="townhall")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready_for_pickup"
    again = _decide(client, ref, decision="appointment_needed", reason_code="id_check")
    assert again.status_code == 409 and again.get_json()["allowed_decisions"] == ["delivered"]


def test_an_appointment_needed_is_booked_from_tracking_at_the_documents_service(
    city: Backend, ussd: UssdPhone, client: FlaskClient, redis_client: redis.Redis
) -> None:
    ref = _file_electoral(ussd)
    _run_sms_jobs(redis_client)
    assert _decide(client, ref, decision="in_review").status_code == 200
    _run_sms_jobs(redis_client)
    asked = _decide(client, ref, decision="appointment_needed", reason_code="photo_fingerprints")
    assert asked.status_code == 200, asked.get_json()
    _run_sms_jobs(redis_client)
    alert = read_outbox(redis_client, phone=VOTER, limit=1)[0].text
    assert f"*384*12# > 3 > {ref} > 1" in alert
    assert city.list_bookings(phone=VOTER, limit=10) == []

    # The SMS's path: short code, 3 (track), the reference, 1 (book) -> the service's days.
    ussd.dial(phone=VOTER)
    ussd.type("3")
    tracked = ussd.type(ref)
    assert tracked.body.splitlines()[-4:-2] == ["1. Prendre RDV", "2. Autre demande"]
    days = ussd.type("1")
    assert days.body.startswith("Choisissez le jour (places libres)\n1. "), days.body
    slots = ussd.type("1")
    assert slots.body.startswith("Choisissez l'heure (places libres)\n1. 08:00 ("), slots.body
    confirm = ussd.type("1")
    assert confirm.body.startswith("État civil (pièces), le "), confirm.body
    done = ussd.type("1")
    code = re.search(r"Rendez-vous (\d{8}):", done.body)
    assert done.end and code is not None, done.body

    (booking,) = city.list_bookings(phone=VOTER, limit=10)
    assert (booking.code, booking.service_code, booking.minute) == (
        code.group(1),
        "civil_status",
        480,
    )
    _run_sms_jobs(redis_client)
    sent = read_outbox(redis_client, phone=VOTER, limit=1)[0].text
    assert sent.startswith(f"Guichet: RDV {booking.code} confirmé, État civil"), sent


def test_a_correction_links_to_the_act_typed_by_ussd(
    city: Backend, ussd: UssdPhone, client: FlaskClient, redis_client: redis.Redis
) -> None:
    ussd.dial(phone=CORRECTOR)
    kinds = ussd.type("2", "7")
    ussd.type(_option(kinds.body, "Correction d'un acte"))
    name = ussd.type("1")  # no counter items: the applicant's identity comes first
    assert "Nom complet" in name.body
    ussd.type("Zawadi Mapendo")
    act = ussd.type("CD-445566")
    assert "ACT-AAAA-NNNNNN" in act.body
    refused = ussd.type("ACT-2015-41")
    assert "Référence invalide" in refused.body
    entry = ussd.type("2015 000412")  # digits alone are enough on a keypad
    assert "1. Nom" in entry.body
    ussd.type("1")
    summary = ussd.type("Zawadi Mapendo")
    assert "ACT-2015-000412, Nom, Zawadi Mapendo" in summary.body
    ussd.type("1")
    done = ussd.type("1")
    found = re.search(r"(\d{8})", done.body)
    assert found is not None, done.body
    ref = found.group(1)

    shown = client.get(f"/api/v1/requests/{ref}", headers=AGENT).get_json()
    assert (shown["kind"], shown["linked_act"]) == ("correction", "ACT-2015-000412")
    assert shown["dossier"]["act_reference"] == "ACT-2015-000412"

    _run_sms_jobs(redis_client)
    assert _decide(client, ref, decision="in_review").status_code == 200
    assert "examen" in _sms(client, redis_client, CORRECTOR, f"STATUT {ref}", "cor-statut-1")
    assert _decide(client, ref, decision="reject", reason_code="proof_needed").status_code == 200
    refused_sms = _sms(client, redis_client, CORRECTOR, f"STATUS {ref}", "cor-statut-2")
    # STATUS (English keyword) answers in English: the citizen's language, the coded reason.
    assert "refused. Reason: Bring a proof of the error to the counter" in refused_sms
    final = _decide(client, ref, decision="approve")
    assert final.status_code == 409 and final.get_json()["allowed_decisions"] == []


def test_an_association_declaration_with_its_file_fee_unpaid_is_not_ready(
    city: Backend, client: FlaskClient
) -> None:
    filed = city.create_request(
        owner_phone="+243990000043",
        document_code="association",
        idempotency_key="assoc-1",
        applicant_name="Furaha Kahindo",
        id_number="CD-998877",
        dossier={"association_name": "Jeunes de Himbi", "seat": "Himbi"},
    )
    assert (filed.fee, filed.fee_status.value, filed.status) == (
        15000,
        "due",
        RequestStatus.SUBMITTED,
    )
    ref = filed.reference
    for decision in ("in_review", "approve"):
        assert _decide(client, ref, decision=decision).status_code == 200
    unpaid = _decide(client, ref, decision="ready", office="townhall")
    assert unpaid.status_code == 409
    body = unpaid.get_json()
    assert (body["error"], body["status"]) == ("fee_unpaid", "approved")
    assert body["allowed_decisions"] == ["waive_fee"]
    # Filed by USSD, the fee is collected first: the request waits in awaiting_payment.
    waiting = city.create_request(
        owner_phone="+243990000043",
        document_code="association",
        idempotency_key="assoc-2",
        applicant_name="Furaha Kahindo",
        id_number="CD-998877",
        dossier={"association_name": "Jeunes de Katindo", "seat": "Katindo"},
        collect_fee=True,
    )
    assert waiting.status is RequestStatus.AWAITING_PAYMENT
    shown = client.get(f"/api/v1/requests/{waiting.reference}", headers=AGENT).get_json()
    assert (shown["kind"], shown["allowed_decisions"]) == ("declaration", ["reject", "waive_fee"])


def test_the_demo_citizen_declares_an_association_and_its_file_fee_is_collected(
    city: Backend, ussd: UssdPhone, client: FlaskClient
) -> None:
    # The README walkthrough's keys: the demo citizen's identity is known, so not asked.
    ussd.dial()
    ussd.type("2", "7", "3", "1")
    seat = ussd.type("1", "Jeunes de Himbi")
    assert "Siège" in seat.body
    confirm = ussd.type("Himbi", "1")
    assert "Déclaration d'association, frais 15 000 CDF?" in confirm.body
    operators = ussd.type("1")  # the file fee is paid by mobile money first
    assert "Payer les frais, 15 000 CDF, avec:" in operators.body
    done = ussd.type("1")
    found = re.search(r"(\d{8})", done.body)
    assert found is not None and done.end, done.body
    shown = client.get(f"/api/v1/requests/{found.group(1)}", headers=AGENT).get_json()
    assert (shown["kind"], shown["status"], shown["fee"]["status"]) == (
        "declaration",
        "awaiting_payment",
        "due",
    )
    assert shown["dossier"] == {"association_name": "Jeunes de Himbi", "seat": "Himbi"}


@pytest.mark.parametrize(
    ("raw", "saved"),
    [
        ("ACT-2015-000412", "ACT-2015-000412"),
        ("act 2015 000412", "ACT-2015-000412"),
        ("2015000412", "ACT-2015-000412"),
        ("ACT-2015-00041", None),  # five digits
        ("ACT-1850-000412", None),  # before MIN_YEAR
        ("ACT-2031-000412", None),  # not registered yet
        ("XYZ-2015-000412", None),
    ],
)
def test_act_reference_validator(raw: str, saved: str | None) -> None:
    check = field_check(
        FormField(key="act", label="x", validator="act_reference"), date(2026, 11, 30)
    )
    assert check is not None and check(raw) == saved


def _bad_catalogue(tmp_path: Path, edit: Any) -> Path:
    city = yaml.safe_load(DEMO_CITY.read_text(encoding="utf-8"))
    edit(city)
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(city, allow_unicode=True), encoding="utf-8")
    return path


def test_the_demo_catalogue_lints_clean() -> None:
    report = lint(MENUS, catalogue=DEMO_CITY)
    assert report.ok, report.lines()


def _unknown_kind(city: dict[str, Any]) -> None:
    city["documents"][-1]["kind"] = "adoption"


def _unknown_target(city: dict[str, Any]) -> None:
    city["workflows"]["correction"]["transitions"]["approved"]["ready"] = "collected"


def _unknown_status(city: dict[str, Any]) -> None:
    city["workflows"]["dossier"]["statuses"].append("archived")


def _unknown_decision(city: dict[str, Any]) -> None:
    city["workflows"]["dossier"]["transitions"]["submitted"]["archive"] = "rejected"


@pytest.mark.parametrize(
    ("edit", "where", "message"),
    [
        (_unknown_kind, "documents.act_correction.kind", "unknown kind 'adoption'"),
        (_unknown_target, "workflows.correction.transitions.approved.ready", "unknown status"),
        (_unknown_status, "workflows.dossier.statuses", "unknown status 'archived'"),
        (_unknown_decision, "transitions.submitted.archive", "unknown decision 'archive'"),
    ],
)
def test_lint_and_seed_refuse_a_bad_workflow(
    tmp_path: Path, edit: Any, where: str, message: str
) -> None:
    path = _bad_catalogue(tmp_path, edit)
    lines = lint(MENUS, catalogue=path).lines()
    assert any(where in line and message in line for line in lines), lines
    with pytest.raises(SeedError, match=message):
        seed_demo(f"sqlite:///{tmp_path / 'city.db'}", path=path)


def test_the_lint_command_checks_the_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad_catalogue(tmp_path, _unknown_kind)
    assert menus_main(["lint", str(MENUS), "--catalogue", str(bad)]) == 1
    assert "unknown kind 'adoption'" in capsys.readouterr().err
    assert menus_main(["lint", str(MENUS)]) == 0  # the demo city beside menus.yaml, clean


def test_lint_catches_a_status_without_text_in_a_language(tmp_path: Path) -> None:
    line = '  status_appointment_needed: {fr: "RDV requis", en: "book a visit", sw: "weka miadi"}'
    text = MENUS.read_text(encoding="utf-8")
    assert line in text
    path = tmp_path / "menus.yaml"
    path.write_text(text.replace(line, line.replace(', sw: "weka miadi"', "")), encoding="utf-8")
    lines = lint(path, catalogue=DEMO_CITY).lines()
    assert any(
        "workflows.registration" in line and "appointment_needed has no text in sw" in line
        for line in lines
    ), lines
