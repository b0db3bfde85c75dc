"""Inbound SMS: callback -> dedupe -> job -> keyword router -> reply through SmsService."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

import runtime
from civic.ports import Backend, Decision
from civic.seed import seed_demo
from gateway.app import create_app
from gateway.schema import migrate_payments
from runtime import keys
from sms.preferences import Preferences
from sms.providers.console import read_outbox
from sms.store import MessageStore
from tests.sms.conftest import OTHER, PHONE, Jobs


@dataclass
class Phone:
    """A phone texting the city, and the replies it gets."""

    client: FlaskClient
    jobs: Jobs
    redis: redis.Redis
    number: str = PHONE
    sent: int = 0

    def text(self, body: str, *, callback_id: str | None = None) -> dict[str, Any]:
        """Send an inbound SMS as AT would; run the jobs; return the callback's JSON."""
        self.sent += 1
        response = self.client.post(
            "/sms/africastalking/inbound",
            data={
                "from": self.number,
                "to": "12345",
                "text": body,
                "date": "2025-01-31 10:00:00",
                "id": callback_id or f"in-{self.number[-4:]}-{self.sent}",
                "linkId": "",
                "networkCode": "63001",
            },
        )
        assert response.status_code == 200
        self.jobs.run()
        payload: dict[str, Any] = response.get_json()
        return payload

    def replies(self) -> list[str]:
        """Return the texts this phone received, oldest first."""
        return [e.text for e in reversed(read_outbox(self.redis, phone=self.number, limit=500))]

    def last(self) -> str:
        """Return the last reply."""
        return self.replies()[-1]


@pytest.fixture
def phone(app: Flask, client: FlaskClient, jobs: Jobs, redis_client: redis.Redis) -> Phone:
    return Phone(client, jobs, redis_client)


def test_duplicate_callbacks_are_processed_once(phone: Phone) -> None:
    assert phone.text("AIDE", callback_id="dup-1")["status"] == "accepted"
    assert phone.text("AIDE", callback_id="dup-1")["status"] == "duplicate"
    assert len(phone.replies()) == 1
    assert phone.last().startswith("Guichet: STATUT <réf> suit une demande")


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"from": "+243810000001", "text": "AIDE"},  # no id
        {"from": "not a phone", "text": "AIDE", "id": "x1"},
        {"from": "+243810000001", "text": "A" * 5000, "id": "x2"},
        {"from": "+243810000001", "text": "AIDE", "id": "bad id with spaces"},
    ],
)
def test_malformed_callbacks_are_answered_200_and_ignored(
    client: FlaskClient, jobs: Jobs, form: dict[str, str]
) -> None:
    response = client.post("/sms/africastalking/inbound", data=form)
    assert (response.status_code, response.get_json()["status"]) == (200, "ignored")
    assert jobs.queue.count == 0


def test_stop_and_start(phone: Phone) -> None:
    prefs = runtime.current().get(Preferences)
    phone.text("  Arrêt ")
    assert prefs.opted_out(PHONE)
    assert "START pour reprendre" in phone.last()
    phone.text("start")
    assert not prefs.opted_out(PHONE)


def test_language_is_saved_on_the_ussd_key_and_used(
    phone: Phone, redis_client: redis.Redis
) -> None:
    phone.text("LUGHA kiswahili")
    assert redis_client.get(keys.phone_language(PHONE)) == b"sw"
    assert phone.last() == "Guichet: ujumbe wetu utakufikia kwa Kiswahili."
    phone.text("blah")
    assert phone.last().startswith("Guichet: ujumbe haueleweki")
    phone.text("LANGUE xx")
    assert phone.last().startswith("Guichet: tuma LUGHA fr")


def test_unknown_text_gets_a_short_help_in_the_keyword_language(phone: Phone) -> None:
    phone.text("bonjour")
    assert phone.last() == "Guichet: message non compris. Envoyez AIDE, ou composez *384*12#."
    phone.text("HELP")  # no language saved: the keyword's language answers
    assert phone.last().startswith("Guichet: STATUS <ref> follows a request")


BIRTH = {
    "child_name": "Neema Kahindo",
    "birth_date": "14/02/2019",
    "birth_place": "Goma",
    "mother_name": "Furaha Kahindo",
}


def test_status_of_a_request(phone: Phone, app_config: dict[str, Any]) -> None:
    seed_demo(app_config["database_url"])
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    request = backend.create_request(
        owner_phone=PHONE, document_code="birth", idempotency_key="s1", dossier=BIRTH
    )
    phone.text(f"statut {request.reference}")
    assert phone.last().startswith(f"Guichet: demande {request.reference} (Extrait d'acte")
    backend.decide(request.reference, Decision.IN_REVIEW, agent_id="a1")
    backend.decide(
        request.reference,
        Decision.REJECT,
        agent_id="a1",
        reason_code="missing_info",
        reason="Photo illisible",
    )
    phone.text(f"HALI {request.reference}")
    reply = phone.last()
    assert reply.startswith(f"Guichet: ombi {request.reference}")
    # The coded reason in the keyword's language, the agent's own words appended.
    assert "Sababu: Taarifa hazijakamilika, omba upya. Photo illisible" in reply
    assert f"HALI {request.reference}" in reply


def test_status_of_someone_elses_request_looks_unknown(
    phone: Phone, app_config: dict[str, Any]
) -> None:
    seed_demo(app_config["database_url"])
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    request = backend.create_request(
        owner_phone=OTHER, document_code="birth", idempotency_key="s2", dossier=BIRTH
    )
    phone.text(f"STATUT {request.reference}")
    assert phone.last().startswith(f"Guichet: aucune demande {request.reference}")


def test_status_with_a_mistyped_or_missing_reference(phone: Phone) -> None:
    phone.text("STATUT 12345670")  # wrong check digit
    assert "semble mal tapée" in phone.last()
    phone.text("STATUT")
    assert phone.last().startswith("Guichet: envoyez STATUT suivi")


def test_receipt_check(app: Flask, phone: Phone) -> None:
    phone.text("RECU")  # the payments tables are not there: a polite "try later"
    assert phone.last().startswith("Guichet: service momentanément indisponible")
    migrate_payments(app.config["SETTINGS"].database_url)
    phone.text("RECU 12")
    assert "semble mal tapé" in phone.last()
    phone.text("RECU")  # no code: this phone's latest receipts, here none
    assert phone.last().startswith("Guichet: aucune quittance pour ce numéro")


def test_replies_are_rate_limited_per_phone(
    app_config: dict[str, Any], client: FlaskClient, jobs: Jobs, redis_client: redis.Redis
) -> None:
    limited = create_app({**app_config, "sms_replies_per_hour": 2})
    phone = Phone(limited.test_client(), jobs, redis_client)
    for _ in range(4):
        phone.text("AIDE")
    replies = phone.replies()
    assert len(replies) == 3  # two answers, one "too many", then silence
    assert replies[-1].startswith("Guichet: trop de messages")
    phone.text("STOP")  # still acted upon, silently
    assert runtime.current().get(Preferences).opted_out(PHONE)
    assert len(phone.replies()) == 3
    other = Phone(limited.test_client(), jobs, redis_client, number=OTHER)
    other.text("AIDE")
    assert len(other.replies()) == 1


def test_a_rerun_inbound_job_replies_once(phone: Phone, store: MessageStore) -> None:
    phone.text("AIDE", callback_id="rerun-1")
    phone.jobs.queue.enqueue("sms.jobs.handle_inbound", "rerun-1")
    phone.jobs.run()
    assert len(phone.replies()) == 1


def test_callback_token_when_configured(app_config: dict[str, Any]) -> None:
    guarded = create_app({**app_config, "sms_callback_token": "s3cret"}).test_client()
    form = {"from": PHONE, "text": "AIDE", "id": "t1"}
    assert guarded.post("/sms/africastalking/inbound", data=form).status_code == 403
    ok = guarded.post("/sms/africastalking/inbound?token=s3cret", data=form)
    assert ok.status_code == 200
    assert ok.get_json() == {"status": "accepted"}


def test_status_of_a_new_request_that_needs_a_visit_says_so(
    phone: Phone, app_config: dict[str, Any]
) -> None:
    seed_demo(app_config["database_url"])  # 10000099: the demo citizen's residence, submitted
    phone.text("STATUT 10000099")
    reply = phone.last()
    assert reply.startswith("Guichet: demande 10000099 (Certificat de résidence)")
    assert "Un passage au guichet sera demandé" in reply


def test_status_of_a_request_awaiting_its_fee_says_how_to_pay(
    phone: Phone, app_config: dict[str, Any]
) -> None:
    seed_demo(app_config["database_url"])
    phone.text("STATUT 10000103")  # seeded: awaiting payment
    assert "frais à payer" in phone.last() and "menu 3" in phone.last()


@pytest.mark.parametrize(
    ("text", "starts"),
    [
        ("mes données", "Guichet: pour une copie de vos données"),
        ("MY DATA", "Guichet: to get a copy of your data"),
        ("Data yangu", "Guichet: kupata nakala ya taarifa zako"),
    ],
)
def test_my_data_says_how_to_exercise_the_rights_at_the_town_hall(
    phone: Phone, text: str, starts: str
) -> None:
    phone.text(text)
    assert phone.last().startswith(starts)
    assert "mairie" in phone.last() or "town hall" in phone.last() or "manispaa" in phone.last()
