"""The SMS alerts Guichet owes (the history's `announce` mark): who owes, who clears.

The USSD filing and the agents' decisions record the entry as owing its alert in the entry's
own transaction; SmsService accepting the alert clears it; the demo seed and a city portal's
rows owe nothing, so the owed-alerts tick never announces a request Guichet never announced.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import runtime
from civic import sql
from civic.http import HttpBackend
from civic.ports import Backend, Decision, RequestStatus
from civic.seed import seed_demo
from civic.sql import SqlBackend
from sms import request_alerts
from sms.store import MessageStore
from tests.civic.conftest import PORTAL_TOKEN
from tests.civic.fake_portal import FakePortal

AGENT = {"Authorization": "Bearer demo-agent-key"}
SUBMITTED_REF = "10000012"  # seeded: birth, submitted
LATER = timedelta(hours=1)
CITIZEN = "+243810077002"
BIRTH = {
    "child_name": "Neema Kahindo",
    "birth_date": "2019-02-14",
    "birth_place": "Goma",
    "mother_name": "Furaha Kahindo",
}


def _owed(backend: Backend) -> list[tuple[str, int]]:
    return backend.owed_alerts(datetime.now(UTC) + LATER, 1000)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[SqlBackend]:
    """A seeded SQL back office (SQLite, PostgreSQL)."""
    backend = SqlBackend.from_url(request.getfixturevalue(f"{request.param}_url"))
    yield backend
    backend.dispose()


def test_the_demo_seed_owes_no_alert(store: SqlBackend) -> None:
    assert len(store.list_requests(limit=100)) == 12  # the demo city seeds 12 requests
    assert _owed(store) == []


def test_filing_and_deciding_with_announce_owe_until_sent(store: SqlBackend) -> None:
    made = store.create_request(
        owner_phone=CITIZEN,
        document_code="birth",
        dossier=BIRTH,
        idempotency_key="k1",
        announce=True,
    )
    quiet = store.create_request(
        owner_phone=CITIZEN, document_code="birth", dossier=BIRTH, idempotency_key="k2"
    )
    assert _owed(store) == [(made.reference, 1)]
    assert store.owed_alerts(datetime.now(UTC) - LATER, 100) == []  # within the grace
    again = store.create_request(
        owner_phone=CITIZEN,
        document_code="birth",
        dossier=BIRTH,
        idempotency_key="k1",
        announce=True,
    )
    assert again.reference == made.reference and _owed(store) == [(made.reference, 1)]
    store.decide(made.reference, Decision.IN_REVIEW, agent_id="a", announce=True)
    store.decide(quiet.reference, Decision.IN_REVIEW, agent_id="a")
    assert _owed(store) == [(made.reference, 1), (made.reference, 2)]
    store.alert_sent(made.reference, 1)
    assert _owed(store) == [(made.reference, 2)]
    store.alert_sent(made.reference, 2)
    store.alert_sent(made.reference, 2)  # twice is harmless
    assert _owed(store) == []


def test_a_portals_requests_owe_no_alert(portal: FakePortal, sqlite_url: str) -> None:
    client = HttpBackend(portal.url, token=PORTAL_TOKEN, connect_timeout=1, read_timeout=5)
    behind = SqlBackend.from_url(sqlite_url)
    try:
        made = client.create_request(
            owner_phone=CITIZEN,
            document_code="birth",
            dossier=BIRTH,
            idempotency_key="p1",
            announce=True,
        )
        client.decide(made.reference, Decision.IN_REVIEW, agent_id="a", announce=True)
        # The portal's protocol carries no owed alert: its own rows owe nothing either.
        assert client.owed_alerts(datetime.now(UTC) + LATER, 100) == []
        assert _owed(behind) == []
    finally:
        client.close()
        behind.dispose()


def test_migrate_adds_announce_to_a_version_2_database(sqlite_url: str) -> None:
    engine = sql.make_engine(sqlite_url)
    with engine.begin() as conn:  # back to the version 2 history
        conn.execute(sa.text("DROP INDEX ix_civic_history_announce"))
        conn.execute(sa.text("ALTER TABLE civic_request_history DROP COLUMN announce"))
        conn.execute(sql.schema_version.update().values(version=2))
    engine.dispose()
    assert sql.migrate(sqlite_url) == sql.SCHEMA_VERSION
    backend = SqlBackend.from_url(sqlite_url)
    inspector = sa.inspect(backend.engine)
    assert "announce" in {c["name"] for c in inspector.get_columns("civic_request_history")}
    indexes = {i["name"] for i in inspector.get_indexes("civic_request_history")}
    assert "ix_civic_history_announce" in indexes
    assert _owed(backend) == []  # entries older than the column owe nothing
    backend.dispose()


# --- with the app: the SMS layer clears what it accepted ------------------------------------


@pytest.fixture
def city(app: Flask, app_config: dict[str, Any]) -> Backend:
    seed_demo(app_config["database_url"])
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    return backend


def test_an_agents_decision_owes_its_alert_until_accepted(city: Backend, app: Flask) -> None:
    api: FlaskClient = app.test_client()
    answer = api.post(
        f"/api/v1/requests/{SUBMITTED_REF}/decision", json={"decision": "in_review"}, headers=AGENT
    )
    assert answer.status_code == 200 and answer.get_json()["alert"] == "queued"
    store = runtime.current().get(MessageStore)
    assert store.existing(f"request:{SUBMITTED_REF}:3") is not None
    assert _owed(city) == []  # accepted inline: nothing left owed


def test_owed_alerts_are_sent_once_and_the_seed_never(city: Backend) -> None:
    services = runtime.current()
    store = services.get(MessageStore)
    made = city.create_request(
        owner_phone=CITIZEN,
        document_code="birth",
        dossier=BIRTH,
        idempotency_key="ussd:s:birth",
        announce=True,
    )
    assert made.status is RequestStatus.SUBMITTED
    assert request_alerts.send_owed_alerts(services, LATER.total_seconds()) == 0  # grace
    assert request_alerts.send_owed_alerts(services, 0) == 1
    first = store.existing(f"request:{made.reference}:1")
    assert first is not None
    assert _owed(city) == []
    assert request_alerts.send_owed_alerts(services, 0) == 0
    assert request_alerts.send_request_alert(made.reference, 1) == "queued"  # the lost job, late
    assert store.existing(f"request:{made.reference}:1") == first  # still one message
    for seeded in city.list_requests(limit=100):
        if seeded.reference == made.reference:
            continue
        for seq in range(1, len(seeded.history) + 1):
            assert store.existing(f"request:{seeded.reference}:{seq}") is None
