"""The agents' API over a seeded SQLite back office, with the real app and Redis."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

import runtime
from civic.seed import seed_demo
from sms.preferences import Preferences
from sms.providers.console import read_outbox
from sms.store import MessageStore

AGENT = {"Authorization": "Bearer demo-agent-key"}
READY_REF = "10000057"  # seeded: birth, ready_for_pickup
SUBMITTED_REF = "10000012"  # seeded: birth, submitted
APPROVED_REF = "10000048"  # seeded: marriage, approved


@pytest.fixture
def seeded(app: Flask, app_config: dict[str, Any]) -> FlaskClient:
    seed_demo(app_config["database_url"])
    return app.test_client()


def _decide(client: FlaskClient, ref: str, body: Any) -> Any:
    return client.post(f"/api/v1/requests/{ref}/decision", json=body, headers=AGENT)


def test_unknown_or_missing_key_is_401(seeded: FlaskClient) -> None:
    assert seeded.get("/api/v1/requests").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert seeded.get("/api/v1/requests", headers=wrong).status_code == 401
    portal = {"Authorization": "Bearer demo-portal-key"}
    assert seeded.get("/api/v1/requests", headers=portal).status_code == 403


def test_list_is_paginated_newest_first(seeded: FlaskClient) -> None:
    first = seeded.get("/api/v1/requests?per_page=6", headers=AGENT).get_json()
    second = seeded.get("/api/v1/requests?per_page=6&page=2", headers=AGENT).get_json()
    assert (len(first["items"]), first["has_more"]) == (6, True)
    assert (len(second["items"]), second["has_more"]) == (6, False)
    refs = [r["reference"] for r in first["items"] + second["items"]]
    assert len(set(refs)) == 12 and refs[-1] == SUBMITTED_REF


def test_list_filters_by_status(seeded: FlaskClient) -> None:
    body = seeded.get("/api/v1/requests?status=rejected", headers=AGENT).get_json()
    assert {r["status"] for r in body["items"]} == {"rejected"}
    assert len(body["items"]) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=lost", "status"),
        ("page=0", "page"),
        ("per_page=500", "per_page"),
        ("page=x", "page"),
    ],
)
def test_bad_list_queries_are_400_with_field_errors(
    seeded: FlaskClient, query: str, field: str
) -> None:
    response = seeded.get(f"/api/v1/requests?{query}", headers=AGENT)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_get_one_request_with_history_and_allowed_decisions(seeded: FlaskClient) -> None:
    body = seeded.get(f"/api/v1/requests/{READY_REF}", headers=AGENT).get_json()
    assert body["status"] == "ready_for_pickup"
    assert (body["office_id"], body["pickup"]) == ("townhall", None)
    assert [r["code"] for r in body["reason_codes"]] == [
        "missing_info",
        "not_in_register",
        "id_check",
    ]
    assert [h["status"] for h in body["history"]][-1] == "ready_for_pickup"
    assert body["allowed_decisions"] == ["delivered"]


def test_mistyped_reference_is_400_and_unknown_is_404(seeded: FlaskClient) -> None:
    typo = seeded.get("/api/v1/requests/10000021", headers=AGENT)  # 10000020 with a typo
    assert typo.status_code == 400
    assert "reference" in typo.get_json()["errors"]
    assert seeded.get("/api/v1/requests/99999992", headers=AGENT).status_code == 404
    assert _decide(seeded, "99999992", {"decision": "in_review"}).status_code == 404
    assert _decide(seeded, "10000021", {"decision": "in_review"}).status_code == 400


def test_decisions_move_a_request_to_ready_and_queue_one_sms_each(
    seeded: FlaskClient, redis_client: Any
) -> None:
    for decision, status in (("in_review", "in_review"), ("approve", "approved")):
        response = _decide(seeded, SUBMITTED_REF, {"decision": decision})
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["status"] == status
    ready = _decide(
        seeded, SUBMITTED_REF, {"decision": "ready", "office": "townhall", "pickup": "Guichet 2"}
    )
    body = ready.get_json()
    assert (body["status"], body["office_id"], body["pickup"]) == (
        "ready_for_pickup",
        "townhall",
        "Guichet 2",
    )
    assert body["history"][-1]["agent_id"] == "demo-agent"
    assert body["alert"] == "queued"
    store = runtime.current().get(MessageStore)
    # Entries: 1 filed, 2 fee paid (its receipt said so: no alert), 3 in review, 4, 5 ready.
    message_id = store.existing(f"request:{SUBMITTED_REF}:5")
    assert message_id is not None
    assert store.existing(f"request:{SUBMITTED_REF}:3") is not None
    assert store.existing(f"request:{SUBMITTED_REF}:2") is None


def test_illegal_transition_is_409_with_current_status(seeded: FlaskClient) -> None:
    response = _decide(seeded, SUBMITTED_REF, {"decision": "ready", "office": "townhall"})
    assert response.status_code == 409
    assert response.get_json()["status"] == "submitted"
    assert response.get_json()["allowed_decisions"] == ["in_review", "reject"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "reject"}, "reason_code"),
        ({"decision": "reject", "reason": "Duplicate"}, "reason_code"),
        ({"decision": "reject", "reason_code": "chief_letter"}, "reason_code"),  # not birth's
        ({"decision": "reject", "reason_code": 12}, "reason_code"),
        ({"decision": "reject", "reason_code": "missing_info", "reason": 12}, "reason"),
        ({"decision": "reject", "reason_code": "missing_info", "reason": "x" * 81}, "reason"),
        ({"decision": "approved"}, "decision"),
        ({}, "decision"),
        ({"decision": "in_review", "agent": "me"}, "agent"),
        (["in_review"], "body"),
    ],
)
def test_bad_bodies_are_400_with_field_errors(seeded: FlaskClient, body: Any, field: str) -> None:
    response = _decide(seeded, SUBMITTED_REF, body)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "ready"},
        {"decision": "ready", "pickup": "Mairie, guichet 2"},
        {"decision": "ready", "office": "moon"},
        {"decision": "ready", "office": 3},
    ],
)
def test_ready_names_a_known_office(seeded: FlaskClient, body: dict[str, Any]) -> None:
    response = _decide(seeded, APPROVED_REF, body)
    assert response.status_code == 400
    assert "office" in response.get_json()["errors"]


def test_offices_are_listed_with_their_texts_per_language(seeded: FlaskClient) -> None:
    assert seeded.get("/api/v1/offices").status_code == 401
    items = seeded.get("/api/v1/offices", headers=AGENT).get_json()["items"]
    assert [o["id"] for o in items] == ["townhall", "prosecutor", "court"]
    assert items[0]["address"]["en"] == "Bd Kanyamuhanga, desk 2"


def _sms(ref: str, seq: int) -> Any:
    store = runtime.current().get(MessageStore)
    message_id = store.existing(f"request:{ref}:{seq}")
    assert message_id is not None
    message = store.get(message_id)
    assert message is not None
    if message.text:  # still queued
        return message
    # Sent: the message log keeps no text, the phone's copy (console outbox) has it.
    client = runtime.current().get(redis.Redis)
    [sent] = [e for e in read_outbox(client) if e.message_id == message.provider_id]
    return dataclasses.replace(message, text=sent.text)


@pytest.mark.parametrize(
    ("lang", "reason", "place"),
    [
        ("fr", "Aucun acte trouvé au registre", "Mairie de Goma, état civil"),
        ("en", "No record found in the register", "Goma town hall, civil status"),
        ("sw", "Hakuna kumbukumbu kwenye daftari", "Ofisi ya mji Goma, hali ya kiraia"),
    ],
)
def test_the_citizen_reads_the_agents_decision_in_their_language(
    seeded: FlaskClient, lang: str, reason: str, place: str
) -> None:
    prefs = runtime.current().get(Preferences)
    prefs.set_language("+243810000001", lang)
    response = _decide(
        seeded,
        SUBMITTED_REF,
        {
            "decision": "reject",
            "reason_code": "not_in_register",
            "reason": "Registre 1987\u202e \x00p.12",
        },
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["reason"] == "Registre 1987 p.12"
    refused = _sms(SUBMITTED_REF, len(response.get_json()["history"]))
    assert refused.lang == lang
    assert f"{reason}. Registre 1987 p.12" in refused.text
    assert "\u202e" not in refused.text and "\x00" not in refused.text
    for decision in ("in_review", "approve"):
        assert _decide(seeded, APPROVED_REF, {"decision": decision}).status_code in (200, 409)
    # The seeded approved request still owes its fee: waived first, then ready.
    waived = _decide(seeded, APPROVED_REF, {"decision": "waive_fee", "reason": "Indigent"})
    assert waived.status_code == 200, waived.get_json()
    ready = _decide(seeded, APPROVED_REF, {"decision": "ready", "office": "townhall"})
    assert ready.status_code == 200, ready.get_json()
    collect = _sms(APPROVED_REF, len(ready.get_json()["history"]))
    assert place in collect.text


def test_non_json_body_is_400(seeded: FlaskClient) -> None:
    response = seeded.post(
        f"/api/v1/requests/{SUBMITTED_REF}/decision",
        data="decision=approve",
        headers={**AGENT, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.get_json()["errors"] == {"body": "expected a JSON object"}


def test_back_office_down_is_503_not_500(app: Flask) -> None:
    # The app's SQLite file was never migrated: every query fails.
    response = app.test_client().get("/api/v1/requests", headers=AGENT)
    assert response.status_code == 503
    assert response.get_json()["error"] == "unavailable"


AWAITING_REF = "10000103"  # seeded: birth, awaiting_payment


def test_a_request_shows_its_dossier_and_fee(seeded: FlaskClient) -> None:
    body = seeded.get(f"/api/v1/requests/{SUBMITTED_REF}", headers=AGENT).get_json()
    assert body["dossier"] == {
        "child_name": "Neema Kahindo",
        "birth_date": "14/02/2019",
        "birth_place": "Goma",
        "mother_name": "Furaha Kahindo",
    }
    assert body["fee"] == {"amount": 5000, "currency": "CDF", "status": "paid", "receipt_code": ""}
    assert [h["event"] for h in body["history"]] == [None, "fee_paid"]
    waiting = seeded.get(f"/api/v1/requests/{AWAITING_REF}", headers=AGENT).get_json()
    assert (waiting["status"], waiting["fee"]["status"]) == ("awaiting_payment", "due")
    assert waiting["allowed_decisions"] == ["reject", "waive_fee"]
    listed = seeded.get("/api/v1/requests?status=awaiting_payment", headers=AGENT).get_json()
    assert [r["reference"] for r in listed["items"]] == [AWAITING_REF]


def test_ready_on_an_unpaid_fee_is_409_until_a_waiver_with_a_reason(
    seeded: FlaskClient,
) -> None:
    before = seeded.get(f"/api/v1/requests/{APPROVED_REF}", headers=AGENT).get_json()
    assert before["fee"]["status"] == "due" and "ready" not in before["allowed_decisions"]
    refused = _decide(
        seeded, APPROVED_REF, {"decision": "ready", "office": "townhall", "pickup": "Guichet 2"}
    )
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "fee_unpaid"
    assert refused.get_json()["status"] == "approved"
    no_reason = _decide(seeded, APPROVED_REF, {"decision": "waive_fee"})
    assert no_reason.status_code == 400 and "reason" in no_reason.get_json()["errors"]
    waived = _decide(seeded, APPROVED_REF, {"decision": "waive_fee", "reason": "Indigent"})
    assert waived.status_code == 200, waived.get_json()
    body = waived.get_json()
    assert (body["status"], body["fee"]["status"]) == ("approved", "waived")
    assert body["history"][-1] == {
        **body["history"][-1],
        "event": "fee_waived",
        "reason": "Indigent",
        "agent_id": "demo-agent",
    }
    assert body["alert"] == "queued"  # the citizen is told there is nothing to pay
    store = runtime.current().get(MessageStore)
    waiver_sms = store.get(store.existing(f"request:{APPROVED_REF}:4") or "")
    assert waiver_sms is not None and waiver_sms.template == "request_fee_waived"
    again = _decide(seeded, APPROVED_REF, {"decision": "waive_fee", "reason": "Twice"})
    assert again.status_code == 409
    ready = _decide(
        seeded, APPROVED_REF, {"decision": "ready", "office": "townhall", "pickup": "Guichet 2"}
    )
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready_for_pickup"


def test_a_request_awaiting_payment_is_only_rejected_or_released_by_a_waiver(
    seeded: FlaskClient,
) -> None:
    refused = _decide(seeded, AWAITING_REF, {"decision": "in_review"})
    assert refused.status_code == 409
    assert refused.get_json()["allowed_decisions"] == ["reject", "waive_fee"]
    released = _decide(seeded, AWAITING_REF, {"decision": "waive_fee", "reason": "Orphelin"})
    assert released.get_json()["status"] == "submitted"


def test_lists_mask_id_numbers_and_dates_of_birth_the_dossier_view_shows_them(
    seeded: FlaskClient,
) -> None:
    listed = seeded.get("/api/v1/requests?per_page=20", headers=AGENT).get_json()["items"]
    birth = next(r for r in listed if r["reference"] == SUBMITTED_REF)
    assert birth["dossier"]["birth_date"] == "••••••••19"
    assert birth["dossier"]["child_name"] == "Neema Kahindo"  # a name: shown, not sealed
    identified = [r for r in listed if r["id_number"]]
    assert identified, "the demo city has requests filed with an ID number"
    assert all(r["id_number"] == "••••••••67" for r in identified)
    whole = seeded.get(f"/api/v1/requests/{identified[0]['reference']}", headers=AGENT).get_json()
    assert whole["id_number"] == "CD-1234567"
    one = seeded.get(f"/api/v1/requests/{SUBMITTED_REF}", headers=AGENT).get_json()
    assert one["dossier"]["birth_date"] == "14/02/2019"
