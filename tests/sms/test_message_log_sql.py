"""The SQL message log's statements on SQLite and PostgreSQL (its own schema)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from civic.sql import make_engine
from sms.message_log import MessageLog
from sms.preference_store import PreferenceStore
from sms.store import Message, Status
from sms.tables import utcnow
from tests.civic.conftest import PG_DSN, _postgres_reason

FIELDS = {
    "status": "queued",
    "phone_masked": "+243 81•••••01",
    "phone_ref": "ref1",
    "template": "request_created",
    "lang": "fr",
    "params": '{"ref": "B1"}',
    "essential": 1,
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield a fresh database: a SQLite file, or a schema of the local PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'log.db'}"
        return
    reason = _postgres_reason()
    if reason is not None:
        pytest.skip(reason)
    schema = f"sms_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _message(message_id: str, status: Status, provider_id: str = "") -> Message:
    return Message(
        id=message_id,
        phone="",
        template="request_created",
        lang="fr",
        text="",
        status=status,
        essential=True,
        created_at=0.0,
        updated_at=0.0,
        provider_id=provider_id,
        cost="KES 0.8",
    )


def test_rows_move_forward_only_from_sent(database_url: str) -> None:
    engine = make_engine(database_url)
    log = MessageLog(engine)
    assert log.record("m1", "idem1", FIELDS, "sealed") is None
    duplicate = log.record("m2", "idem1", FIELDS, "sealed")
    assert duplicate is not None and duplicate.id == "m1"
    log.claim(["m1"])
    log.mirror([_message("m1", Status.SENT, "ATX1")])
    log.mirror([_message("m1", Status.DELIVERED, "ATX1")])
    log.mirror([_message("m1", Status.SENT, "ATX1")])  # a late batch: ignored
    row = log.get("m1")
    assert row is not None
    assert (row.status, row.provider_id, row.cost, row.sealed_phone) == (
        Status.DELIVERED,
        "ATX1",
        "KES 0.8",
        None,
    )
    assert [e.split("@")[0] for e in row.history.split(";") if e] == [
        "queued",
        "sending",
        "sent",
        "delivered",
    ]
    engine.dispose()


def test_unfinished_release_mark_sent_and_settle(database_url: str) -> None:
    engine = make_engine(database_url)
    log = MessageLog(engine)
    for n in range(3):
        log.record(f"m{n}", f"idem{n}", FIELDS, "sealed")
    log.claim(["m0", "m1", "m2"])
    log.release(["m0"])  # never handed to the provider
    log.mark_sent(["m1"])
    later = utcnow() + timedelta(seconds=1)
    assert {(m.id, m.status) for m in log.unfinished(later)} == {
        ("m0", Status.QUEUED),
        ("m2", Status.SENDING),
    }
    assert log.settle("m2", Status.FAILED, "interrupted")
    assert not log.settle("m1", Status.FAILED, "late")  # sent: not moved back
    assert log.status_counts() == {"queued": 1, "sent": 1, "failed": 1}
    assert [m.id for m in log.for_phone_ref("ref1")] != []
    engine.dispose()


def test_preferences_upsert(database_url: str) -> None:
    engine = make_engine(database_url)
    store = PreferenceStore(engine)
    assert not store.get("r").opted_out
    store.set_opted_out("r", True)
    store.set_language("r", "sw")
    assert (store.get("r").opted_out, store.get("r").lang) == (True, "sw")
    store.set_opted_out("r", False)
    assert (store.get("r").opted_out, store.get("r").lang) == (False, "sw")
    engine.dispose()
