"""What each adapter does when its back office is slow, down, or set up twice."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from civic import sql
from civic.http import HttpBackend
from civic.ports import BackendUnavailableError, PaymentRecord, RecordOutcome
from civic.seed import seed_demo
from tests.civic.conftest import PORTAL_TOKEN
from tests.civic.fake_portal import FakePortal


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_slow_portal_times_out_as_unavailable(portal: FakePortal) -> None:
    client = HttpBackend(portal.url, token=PORTAL_TOKEN, connect_timeout=0.5, read_timeout=0.2)
    portal.delay = 1.0
    with pytest.raises(BackendUnavailableError, match="unreachable"):
        client.list_tax_types()
    client.close()


@pytest.mark.parametrize("status", [500, 503, 429])
def test_portal_errors_are_unavailable(portal: FakePortal, status: int) -> None:
    client = HttpBackend(portal.url, token=PORTAL_TOKEN)
    portal.fail_status = status
    with pytest.raises(BackendUnavailableError, match=str(status)):
        client.get_request("10000012")
    client.close()


def test_wrong_portal_token_is_unavailable_not_not_found(portal: FakePortal) -> None:
    client = HttpBackend(portal.url, token="wrong")
    with pytest.raises(BackendUnavailableError, match="401"):
        client.get_request("10000012")
    client.close()


def test_portal_down_is_unavailable() -> None:
    client = HttpBackend(f"http://127.0.0.1:{_free_port()}/v1", connect_timeout=0.5)
    with pytest.raises(BackendUnavailableError):
        client.ping()
    client.close()


def test_http_backend_sends_its_token_and_quotes_phone_segments(portal: FakePortal) -> None:
    client = HttpBackend(portal.url, token=PORTAL_TOKEN)
    assert client.get_citizen("+243810000001") is not None
    assert portal.calls[-1] == "GET /v1/citizens/%2B243810000001"
    client.close()


def test_unmigrated_database_is_unavailable(tmp_path: Path) -> None:
    backend = sql.SqlBackend.from_url(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(BackendUnavailableError):
        backend.list_tax_types()
    backend.dispose()


def test_unreachable_postgres_is_unavailable() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/test"
    backend = sql.SqlBackend.from_url(url, timeout=1.0)
    with pytest.raises(BackendUnavailableError):
        backend.ping()
    backend.dispose()


def test_sqlite_parent_directory_is_created(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "var" / "g.db"
    assert sql.migrate(f"sqlite:///{target}") == sql.SCHEMA_VERSION
    assert target.exists()


@pytest.mark.parametrize(
    "flavour", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_migrate_and_seed_are_idempotent(request: pytest.FixtureRequest, flavour: str) -> None:
    url = request.getfixturevalue(f"{flavour}_url")  # already migrated and seeded once
    assert sql.migrate(url) == sql.migrate(url) == sql.SCHEMA_VERSION
    backend = sql.SqlBackend.from_url(url)
    due = backend.find_assessment("road", "100001")
    assert due is not None
    paid = PaymentRecord(
        "p1",
        due.id,
        due.amount,
        "CDF",
        "+243810000001",
        "sandbox",
        "x",
        datetime(2026, 11, 24, tzinfo=UTC),
        "R1",
    )
    assert backend.record_payment(paid) is RecordOutcome.RECORDED
    again = seed_demo(url)
    assert again.assessments_added == 0
    assert len(again.requests) == 12
    with backend.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sql.requests)).scalar() == 12
        assert conn.execute(sa.select(sa.func.count()).select_from(sql.assessments)).scalar() == 805
        versions = conn.execute(sa.select(sql.schema_version.c.version)).scalars().all()
    assert versions == [sql.SCHEMA_VERSION]
    refreshed = backend.get_assessment(due.id)
    assert refreshed is not None and refreshed.paid  # re-seeding never undoes a payment
    backend.dispose()


@pytest.mark.parametrize(
    "flavour", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_migrate_adds_the_new_columns_to_a_version_1_database(
    request: pytest.FixtureRequest, flavour: str
) -> None:
    url = request.getfixturevalue(f"{flavour}_url")
    engine = sql.make_engine(url)
    try:
        added = {
            "civic_document_types": ["reasons"],
            "civic_requests": ["reason_code", "office_id"],
            "civic_request_history": ["reason_code", "office_id"],
        }
        with engine.begin() as conn:  # what a database made by schema version 1 looks like
            for table, columns in added.items():
                for column in columns:
                    conn.execute(sa.text(f'ALTER TABLE {table} DROP COLUMN "{column}"'))
            conn.execute(sa.text("DROP TABLE civic_offices"))
            conn.execute(sql.schema_version.update().values(version=1))
        assert sql.migrate(url) == sql.SCHEMA_VERSION
        inspector = sa.inspect(engine)
        for table, columns in added.items():
            present = {c["name"] for c in inspector.get_columns(table)}
            assert set(columns) <= present
        seed_demo(url)  # the demo city fills the new columns and the offices table again
        backend = sql.SqlBackend(engine)
        stored = backend.get_request("10000057")
        assert stored is not None and stored.office_id is None  # old rows keep what they had
        assert backend.get_office("townhall") is not None
    finally:
        engine.dispose()  # a PostgreSQL connection left to the GC warns in the next test


def test_migrate_adds_the_columns_a_version_1_database_lacks(sqlite_url: str) -> None:
    engine = sql.make_engine(sqlite_url)
    dropped = {
        "civic_requests": ["dossier", "fee", "currency", "fee_status", "fee_receipt"],
        "civic_request_history": ["event"],
        "civic_document_types": ["fields", "at_counter"],
    }
    with engine.begin() as conn:  # back to the version 1 tables
        for table, columns in dropped.items():
            for column in columns:
                conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    engine.dispose()
    assert sql.migrate(sqlite_url) == sql.SCHEMA_VERSION
    backend = sql.SqlBackend.from_url(sqlite_url)
    columns = {c["name"] for c in sa.inspect(backend.engine).get_columns("civic_requests")}
    assert {"dossier", "fee", "fee_status", "fee_receipt"} <= columns
    old = backend.get_request("10000012")  # filed before fees: no dossier, nothing due
    assert old is not None and dict(old.dossier) == {} and old.fee_status.value == "none"
    assert seed_demo(sqlite_url).document_types == 10  # the catalogue gets its fields back
    birth = backend.get_document_type("birth")
    assert birth is not None and len(birth.fields) == 5
    backend.dispose()
