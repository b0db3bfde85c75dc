"""Supervisors export and erase a citizen's personal data from the console (audited)."""

from __future__ import annotations

import json

from flask import Flask

from civic.ports import Backend
from gateway.console.web import console
from gateway.services import services_of
from tests.console.conftest import SUPERVISOR, Staff

CITIZEN = "+243810000001"  # the demo city's citizen, owner of 10000012


def test_export_then_erase_with_a_reason_and_a_confirmation(
    supervisor: Staff, console_app: Flask
) -> None:
    supervisor.get("/console/personal-data")
    exported = supervisor.post("/console/personal-data", phone=CITIZEN, act="export")
    assert exported.status_code == 200
    assert exported.headers["Content-Disposition"].startswith("attachment")
    document = json.loads(exported.get_data(as_text=True))
    assert document["phone"] == CITIZEN and document["records"]
    refused = supervisor.post("/console/personal-data", phone=CITIZEN, act="erase",
                              reason="letter of 30/11")  # fmt: skip
    assert refused.status_code == 400  # not confirmed
    assert supervisor.post("/console/personal-data", phone="12", act="export").status_code == 400
    backend: Backend = services_of(console_app).get(Backend)  # type: ignore[type-abstract]
    assert backend.list_requests(owner_phone=CITIZEN)
    erased = supervisor.post("/console/personal-data", phone=CITIZEN, act="erase",
                             reason="letter of 30/11", confirm="yes")  # fmt: skip
    assert erased.status_code == 200 and "Effacé pour +243 81" in erased.get_data(as_text=True)
    assert backend.list_requests(owner_phone=CITIZEN) == []
    actions = [e.action for e in console(console_app).audit.recent(actor=SUPERVISOR)]
    assert actions[:2] == ["personal_data.erase", "personal_data.export"]
    assert all(CITIZEN not in e.target for e in console(console_app).audit.recent())


def test_agents_cannot_reach_personal_data(agent: Staff) -> None:
    assert agent.get("/console/personal-data").status_code == 403
