"""The assisted counter: a request filed and an appointment booked for a citizen at the desk,
each only after the code sent to the citizen's phone is typed back (their consent)."""

from __future__ import annotations

import re

import redis
from flask import Flask
from rq import Queue, SimpleWorker

import runtime
from civic.ports import Backend, RequestStatus
from runtime import keys
from sms.providers.console import read_outbox
from sms.queues import SMS_QUEUE
from tests.console.conftest import Staff

PHONE = "+243810000777"
LOCAL = "0810000777"


def _deliver(client: redis.Redis) -> None:
    """Work the sms queue as the worker would (the console provider fills the outbox)."""
    queue = Queue(keys.queue(SMS_QUEUE), connection=client)
    SimpleWorker([queue], connection=client).work(burst=True)


def _texts(client: redis.Redis) -> list[str]:
    _deliver(client)
    return [entry.text for entry in read_outbox(client, phone=PHONE)]


def _code(client: redis.Redis) -> str:
    for text in _texts(client):  # newest first
        found = re.search(r"code (\d{6}) (?:pour|to) accept", text)
        if found:
            return found.group(1)
    raise AssertionError("no code reached the citizen's phone")


BIRTH = {
    "f_child_name": "Amani Kahindo",
    "f_birth_date": "12/03/2020",
    "f_birth_place": "Goma",
    "f_father_name": "",
    "f_mother_name": "Neema Kahindo",
}


def _backend() -> Backend:
    return runtime.current().get(Backend)  # type: ignore[type-abstract]


def _nonce(html: str) -> str:
    found = re.search(r'name="nonce" value="([0-9a-f]+)"', html)
    assert found is not None
    return found.group(1)


def _audit(console_app: Flask) -> list[tuple[str, str, str]]:
    with console_app.app_context():
        entries = console_app.extensions["guichet_console"].audit.recent(limit=50)
    return [(e.action, e.target, e.detail) for e in entries]


def _birth_form(agent: Staff) -> dict[str, str]:
    page = agent.get("/console/counter/request?document=birth")
    assert page.status_code == 200
    return {
        "document": "birth",
        "nonce": _nonce(page.get_data(as_text=True)),
        "phone": LOCAL,
        **BIRTH,
    }


def test_a_request_is_filed_only_with_the_citizens_code(
    agent: Staff, console_app: Flask, redis_client: redis.Redis
) -> None:
    form = _birth_form(agent)
    sent = agent.post("/console/counter/request", step="code", **form)
    assert sent.status_code == 200, sent.get_data(as_text=True)
    assert 'id="code-sent"' in sent.get_data(as_text=True)
    code = _code(redis_client)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = agent.post("/console/counter/request", step="confirm", code=wrong, **form)
    assert refused.status_code == 400
    assert _backend().list_requests(owner_phone=PHONE) == []
    # A field changed after the code was sent: the code no longer proves this request.
    changed = {**form, "f_child_name": "Autre Enfant"}
    assert (
        agent.post("/console/counter/request", step="confirm", code=code, **changed).status_code
        == 400
    )
    filed = agent.post("/console/counter/request", step="confirm", code=code, **form)
    assert filed.status_code == 302, filed.get_data(as_text=True)
    mine = _backend().list_requests(owner_phone=PHONE)
    assert len(mine) == 1
    request = mine[0]
    assert request.status is RequestStatus.SUBMITTED
    assert request.dossier["child_name"] == "Amani Kahindo"
    assert request.reference in filed.headers["Location"]
    assert any(request.reference in text for text in _texts(redis_client))  # its alert
    actions = _audit(console_app)
    assert ("counter.request_filed", request.reference) in [(a, t) for a, t, _ in actions]
    assert "counter.code_sent" in [a for a, _, _ in actions]
    assert all(code not in detail and PHONE not in detail for _, _, detail in actions)
    # The code is single use: replaying the confirm files nothing more.
    again = agent.post("/console/counter/request", step="confirm", code=code, **form)
    assert again.status_code == 400
    assert len(_backend().list_requests(owner_phone=PHONE)) == 1


def test_the_form_says_what_is_wrong_and_sends_no_code(
    agent: Staff, redis_client: redis.Redis
) -> None:
    form = {**_birth_form(agent), "phone": "12", "f_birth_date": "31/02/2999"}
    answer = agent.post("/console/counter/request", step="code", **form)
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert 'id="phone-error"' in html and 'id="e_birth_date"' in html
    assert _texts(redis_client) == []


def test_an_agent_files_only_for_the_offices_they_serve(agent: Staff) -> None:
    # criminal records belong to the prosecutor's office; the demo agent serves the town hall.
    assert agent.get("/console/counter/request?document=criminal").status_code == 404
    form = {**_birth_form(agent), "document": "criminal"}
    assert agent.post("/console/counter/request", step="code", **form).status_code == 404


def test_a_document_needing_identity_asks_it_with_the_ussd_rules(
    agent: Staff, redis_client: redis.Redis
) -> None:
    page = agent.get("/console/counter/request?document=marriage").get_data(as_text=True)
    assert 'name="f_applicant_name"' in page and 'name="f_id_number"' in page
    form = {
        "document": "marriage",
        "nonce": _nonce(page),
        "phone": LOCAL,
        "f_applicant_name": "Amani Kahindo",
        "f_id_number": "A 1",  # too short once spaces are gone: 4 to 20 letters or digits
        "f_spouse1_name": "Amani Kahindo",
        "f_spouse2_name": "Neema Mapendo",
        "f_marriage_date": "01/02/2019",
    }
    answer = agent.post("/console/counter/request", step="code", **form)
    assert answer.status_code == 400
    assert 'id="e_id_number"' in answer.get_data(as_text=True)
    assert (
        agent.post(
            "/console/counter/request", step="code", **{**form, "f_id_number": "AB-1234567"}
        ).status_code
        == 200
    )
    assert _code(redis_client)


def test_an_appointment_is_booked_with_the_code_and_confirmed_by_sms(
    agent: Staff, console_app: Flask, redis_client: redis.Redis
) -> None:
    page = agent.get("/console/counter/appointment?service=civil_status")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    slot = re.search(r'<option value="(\d{4}-\d{2}-\d{2}@\d+)"', html)
    assert slot is not None, "no free slot offered"
    form = {
        "service": "civil_status",
        "nonce": _nonce(html),
        "phone": LOCAL,
        "f_slot": slot.group(1),
    }
    assert agent.post("/console/counter/appointment", step="code", **form).status_code == 200
    code = _code(redis_client)
    booked = agent.post("/console/counter/appointment", step="confirm", code=code, **form)
    assert booked.status_code == 302, booked.get_data(as_text=True)
    mine = _backend().list_bookings(phone=PHONE)
    assert len(mine) == 1
    assert mine[0].code in booked.headers["Location"]
    assert any(mine[0].code in text for text in _texts(redis_client))  # the confirmation
    assert ("counter.appointment_booked", mine[0].code) in [
        (a, t) for a, t, _ in _audit(console_app)
    ]


def test_counter_forms_need_the_csrf_token(agent: Staff, redis_client: redis.Redis) -> None:
    form = _birth_form(agent)
    answer = agent.client.post("/console/counter/request", data={**form, "step": "code"})
    assert answer.status_code == 400
    assert _texts(redis_client) == []  # no code went out
