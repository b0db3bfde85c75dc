"""SMS-first (Brussels): order a document by keyword in each language, then follow it by SMS.

Runs the Brussels pack (CITY=brussels) through the real inbound callback, rq worker, router,
civic back office and console SMS provider.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from flask import Flask
from flask.testing import FlaskClient

import runtime
from civic.ports import Backend, RequestStatus
from civic.seed import seed_demo
from runtime.packs import pack
from sms.templates import load
from tests.sms.conftest import Jobs
from tests.sms.test_inbound import Phone

BRUSSELS = pack("brussels")
SOFIE = "+32470123456"  # the demo citizen: known name and identity card number
STRANGER = "+32470999888"  # a Belgian phone the city has never seen


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "city": "brussels"}


@pytest.fixture
def sofie(app: Flask, client: FlaskClient, jobs: Jobs, redis_client: redis.Redis) -> Phone:
    seed_demo(app.config["SETTINGS"].database_url, path=BRUSSELS.catalogue)
    return Phone(client, jobs, redis_client, number=SOFIE)


def _requests(phone: str) -> list[Any]:
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    return backend.list_requests(owner_phone=phone)


def test_the_bare_keyword_lists_what_can_be_ordered_in_the_keywords_language(
    sofie: Phone,
) -> None:
    sofie.text("BESTEL")
    reply = sofie.last()
    assert reply.startswith("Guichet: documenten te bestellen per sms: 1 Gezinssamenstelling")
    # Documents with something to type (a birth certificate's name and date) are not offered.
    assert "Geboorteakte" not in reply
    sofie.text("commande")
    assert sofie.last().startswith("Guichet: documents à commander par SMS: 1 Composition")


def test_ordering_files_one_request_and_answers_with_its_reference(sofie: Phone) -> None:
    before = {r.reference for r in _requests(SOFIE)}
    sofie.text("Bestel 1", callback_id="order-1")
    sofie.text("Bestel 1", callback_id="order-1")  # the aggregator retries the callback
    filed = [r for r in _requests(SOFIE) if r.reference not in before]
    assert len(filed) == 1
    request = filed[0]
    assert (request.document_code, request.status) == ("household", RequestStatus.SUBMITTED)
    # The reply is the request's first alert, in Dutch, with how to follow it by SMS.
    assert sofie.last() == (
        f"Guichet: aanvraag {request.reference} (Gezinssamenstelling) ontvangen. "
        f"Opvolgen: stuur STATUS {request.reference} of bel *384*32#."
    )
    assert len(sofie.replies()) == 1
    # The alert it carried is not owed any more: the periodic tick will not send it again.
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    assert (request.reference, 1) not in backend.owed_alerts(before=request.created_at, limit=50)
    sofie.text(f"stand {request.reference}")  # Dutch only: answered in Dutch
    assert sofie.last().startswith(f"Guichet: aanvraag {request.reference} (Gezinssamenstelling)")
    # STATUS is Dutch and English alike: it hints neither, the phone's language answers.
    sofie.text(f"status {request.reference}")
    assert sofie.last().startswith(f"Guichet: demande {request.reference} (Composition de")
    sofie.text("TAAL nederlands")
    sofie.text(f"status {request.reference}")
    assert sofie.last().startswith(f"Guichet: aanvraag {request.reference} (Gezinssamenstelling)")


def test_a_document_needing_a_counter_check_says_so_at_once(sofie: Phone) -> None:
    sofie.text("ORDER 5")  # the life certificate: the person is seen at the counter
    assert "received. You will be asked to come to the office." in sofie.last()
    (life,) = [r for r in _requests(SOFIE) if r.document_code == "life"]
    assert life.status is RequestStatus.SUBMITTED


def test_an_unknown_number_lists_again_and_files_nothing(sofie: Phone) -> None:
    before = len(_requests(SOFIE))
    sofie.text("COMMANDE 42")
    assert sofie.last().startswith("Guichet: numéro inconnu. Documents à commander: 1 ")
    sofie.text("COMMANDE x")
    assert sofie.last().startswith("Guichet: numéro inconnu.")
    assert len(_requests(SOFIE)) == before


def test_a_phone_without_an_identity_is_sent_to_the_short_code_once(
    app: Flask, client: FlaskClient, jobs: Jobs, redis_client: redis.Redis
) -> None:
    seed_demo(app.config["SETTINGS"].database_url, path=BRUSSELS.catalogue)
    stranger = Phone(client, jobs, redis_client, number=STRANGER)
    stranger.text("ORDER 1")
    assert stranger.last().startswith("Guichet: this document needs your name and ID card number")
    assert _requests(STRANGER) == []


def test_a_pack_offering_orders_by_sms_must_say_how_to_answer(tmp_path: Path) -> None:
    document = yaml.safe_load(BRUSSELS.sms_templates.read_text("utf-8"))
    assert load(BRUSSELS.sms_templates).problems == ()
    del document["templates"]["reply_order_identity"]
    broken = tmp_path / "sms_templates.yaml"
    broken.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    assert any(
        p.startswith("reply_order_identity: template missing") for p in load(broken).problems
    )
