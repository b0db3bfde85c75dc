"""Each civic record is defined once: its table's columns are its fields, and it reads back."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from civic.ports import (
    Citizen,
    DocumentRequest,
    FeeStatus,
    HistoryEvent,
    RequestStatus,
    StatusChange,
)
from civic.seed import seed_demo
from civic.sql import SqlBackend
from civic.sql_rows import RECORD_TABLES, REQUESTS, RecordTable, history_values, load_requests
from civic.sql_tables import metadata, request_history, requests, schema_version, seed_marks


@pytest.mark.parametrize("stored", RECORD_TABLES, ids=lambda s: s.table.name)
def test_every_column_is_a_field_of_the_record_or_declared_bookkeeping(
    stored: RecordTable[Any],
) -> None:
    fields = {f.name for f in dataclasses.fields(stored.record)}
    assert stored.record_only <= fields
    assert not stored.table_only & fields
    assert set(stored.table.c.keys()) == (fields - stored.record_only) | stored.table_only
    assert set(stored.decode) | set(stored.encode) <= fields


def test_every_civic_table_but_the_bookkeeping_ones_stores_a_record() -> None:
    stored = {s.table.name for s in RECORD_TABLES}
    assert stored == set(metadata.tables) - {schema_version.name, seed_marks.name}


@pytest.fixture
def backend(tmp_path: Path) -> SqlBackend:
    url = f"sqlite:///{tmp_path / 'civic.db'}"
    seed_demo(url)
    return SqlBackend.from_url(url)


def test_a_request_with_every_field_set_reads_back_equal(backend: SqlBackend) -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    history = (
        StatusChange(status=RequestStatus.AWAITING_PAYMENT, at=at, agent_id=None),
        StatusChange(
            status=RequestStatus.READY_FOR_PICKUP,
            at=at,
            agent_id="agent-7",
            reason="free text",
            pickup="window 3",
            reason_code="missing_info",
            office_id="central",
            event=HistoryEvent.FEE_PAID,
        ),
    )
    request = DocumentRequest(
        reference="99999990",
        document_code="birth",
        owner_phone="+254700000001",
        status=RequestStatus.READY_FOR_PICKUP,
        created_at=at,
        history=history,
        applicant_name="Amina N.",
        id_number="12345678",
        reason="reason text",
        pickup="pickup text",
        reason_code="missing_info",
        office_id="central",
        dossier={"child_name": "Baraka"},
        fee=500,
        currency="KES",
        fee_status=FeeStatus.PAID,
        fee_receipt="R-1",
    )
    unset = {f.name for f in dataclasses.fields(DocumentRequest)} - {
        name for name, value in vars_of(request).items() if value != default_of(name)
    }
    assert not unset  # the round trip below covers every field
    with backend.engine.begin() as conn:
        conn.execute(
            requests.insert().values(
                {**REQUESTS.values(request), "idempotency_key": "k", "version": len(history)}
            )
        )
        conn.execute(
            request_history.insert(),
            [history_values(request.reference, seq, c) for seq, c in enumerate(history)],
        )
    with backend.engine.connect() as conn:
        rows = conn.execute(requests.select().where(requests.c.reference == "99999990")).all()
        assert load_requests(conn, rows) == [request]
    found = backend.get_request(request.reference)
    assert found == request
    # A StrEnum equals its string: check the types too, so a missing decode cannot pass.
    assert {k: type(v) for k, v in vars_of(found).items()} == {
        k: type(v) for k, v in vars_of(request).items()
    }


def test_a_citizen_reads_back_equal(backend: SqlBackend) -> None:
    citizen = Citizen(phone="+254700000002", name="Juma", id_number="87654321", language="sw")
    backend.save_citizen(citizen)
    assert backend.get_citizen(citizen.phone) == citizen
    renamed = dataclasses.replace(citizen, name="Juma K.", language="en")
    backend.save_citizen(renamed)
    assert backend.get_citizen(citizen.phone) == renamed


def vars_of(record: DocumentRequest) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def default_of(name: str) -> Any:
    found = {f.name: f for f in dataclasses.fields(DocumentRequest)}[name]
    if found.default is not dataclasses.MISSING:
        return found.default
    if found.default_factory is not dataclasses.MISSING:
        return found.default_factory()
    return object()  # a required field: always counts as set
