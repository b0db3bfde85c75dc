"""One privacy rule for request data on USSD, SMS and their HTTP callbacks.

The phone that filed a request sees everything; any other phone gets exactly the answer for
an unknown reference, and its guesses are counted (RATE_REQUEST_GUESSES), within one USSD
session as across sessions and channels.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker

import runtime
from civic import references
from civic.ports import Backend
from civic.seed import seed_demo
from gateway.config import Settings
from gateway.schema import MIGRATIONS, run_steps
from runtime import keys
from sms.providers.console import read_outbox
from tests.conftest import UssdPhone

OWNER = "+243810000001"  # the demo citizen: every seeded request is theirs
STRANGER = "+243990000555"
READY = "10000057"  # seeded: ready for pickup, with an office
REJECTED = "10000073"  # seeded: refused, with a reason
NOBODYS = references.make_reference(9_999_990)  # valid check digit, no such request


@pytest.fixture
def app_config(redis_url: str, tmp_path: Any) -> dict[str, Any]:
    return {
        "redis_url": redis_url,
        "database_url": f"sqlite:///{tmp_path / 'guichet.db'}",
        "rate_request_guesses": "3/3600",
    }


@pytest.fixture
def city(app: Flask, app_config: dict[str, Any]) -> Backend:
    run_steps(MIGRATIONS, app_config["database_url"], io.StringIO())
    seed_demo(app_config["database_url"])
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    return backend


def _track(ussd: UssdPhone, phone: str, ref: str) -> Any:
    if "interrompue" in ussd.dial(phone=phone).body:
        ussd.type("2")  # the last session was left open: start over
    ussd.type("3", "1")
    return ussd.type(ref)


@pytest.mark.parametrize("ref", [READY, REJECTED])
def test_a_stranger_on_ussd_gets_the_unknown_reference_answer(
    city: Backend, ussd: UssdPhone, ref: str
) -> None:
    theirs = _track(ussd, STRANGER, ref)
    nobodys = _track(ussd, STRANGER, NOBODYS)
    assert (theirs.kind, theirs.body.replace(ref, "<ref>")) == (
        nobodys.kind,
        nobodys.body.replace(NOBODYS, "<ref>"),
    )
    assert "Aucune demande" in theirs.body
    for secret in ("Mairie", "guichet", "Actes de naissance", "Extrait", "Certificat"):
        assert secret not in theirs.body
    # What follows is the same too: "1. Réessayer" leads back to the reference prompt.
    again = ussd.type("1")
    _track(ussd, STRANGER, ref)
    assert ussd.type("1").body == again.body


def test_the_owner_sees_everything(city: Backend, ussd: UssdPhone) -> None:
    shown = _track(ussd, OWNER, READY)
    assert not shown.end and f"Demande {READY} (Extrait d'acte de naissance)" in shown.body


def test_guesses_are_limited_within_one_ussd_session_and_across_channels(
    city: Backend, ussd: UssdPhone, client: FlaskClient, redis_client: redis.Redis
) -> None:
    ussd.dial(phone=STRANGER)
    ussd.type("3", "1")
    answers = []
    for body in range(3):  # RATE_REQUEST_GUESSES=3/3600: three guesses answered "unknown"
        guess = references.make_reference(9_999_000 + body)
        answers.append(ussd.type(guess))
        ussd.type("1")  # Réessayer
    assert all("Aucune demande" in a.body for a in answers)
    limited = ussd.type(READY)  # someone else's: refused like any other guess now
    assert limited.end and "Trop de références" in limited.body
    # The budget is the phone's: a new session, or an SMS, is refused as well.
    assert "Trop de références" in _track(ussd, STRANGER, NOBODYS).body
    _sms(client, redis_client, STRANGER, f"STATUT {READY}", "sms-guess-1")
    replies = read_outbox(redis_client, phone=STRANGER, limit=10)
    assert "trop de références" in replies[0].text
    # Mistyped references cost nothing (the check digit answers first); the owner is not
    # touched by a stranger's budget.
    assert "incorrecte" in _track(ussd, STRANGER, "10000058").body
    assert "disponible" in _track(ussd, OWNER, READY).body


def _sms(
    client: FlaskClient, redis_client: redis.Redis, phone: str, text: str, sms_id: str
) -> None:
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
    assert response.status_code == 200
    assert response.get_json() == {"status": "accepted"}  # else no reply job was queued
    SimpleWorker([Queue(keys.queue("sms"), connection=redis_client)], connection=redis_client).work(
        burst=True
    )


def test_sms_status_from_a_stranger_is_the_unknown_reply(
    city: Backend, client: FlaskClient, redis_client: redis.Redis
) -> None:
    _sms(client, redis_client, STRANGER, f"STATUT {REJECTED}", "sms-s-1")
    _sms(client, redis_client, STRANGER, f"STATUT {NOBODYS}", "sms-s-2")
    nobodys, theirs = [m.text for m in read_outbox(redis_client, phone=STRANGER, limit=10)]
    assert theirs.replace(REJECTED, "<ref>") == nobodys.replace(NOBODYS, "<ref>")
    assert theirs.startswith(f"Guichet: aucune demande {REJECTED}")
    _sms(client, redis_client, OWNER, f"STATUT {REJECTED}", "sms-s-3")
    mine = read_outbox(redis_client, phone=OWNER, limit=1)[0].text
    assert "Actes de naissance des parents manquants" in mine


def test_production_refuses_to_turn_the_guess_limit_off() -> None:
    problems = Settings(rate_request_guesses="off").production_problems()
    assert any("RATE_REQUEST_GUESSES" in p for p in problems)
    assert not any(
        "RATE_REQUEST_GUESSES" in p
        for p in Settings(rate_request_guesses="5/60").production_problems()
    )
