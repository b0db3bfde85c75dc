"""Backends for the civic contract suite: SQLite, PostgreSQL (own schema) and HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from civic.http import HttpBackend
from civic.ports import Backend
from civic.seed import seed_demo
from civic.sql import SqlBackend
from tests.civic.fake_portal import FakePortal

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=2"
PORTAL_TOKEN = "portal-test-token"


def _postgres_reason() -> str | None:
    try:
        with psycopg.connect(PG_DSN):
            return None
    except psycopg.Error as error:
        return f"no PostgreSQL on 127.0.0.1:5432 ({type(error).__name__})"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return the URL of a fresh seeded SQLite file."""
    url = f"sqlite:///{tmp_path / 'var' / 'civic.db'}"
    seed_demo(url)
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """Yield the URL of a fresh seeded schema on the local PostgreSQL; drop it afterwards."""
    reason = _postgres_reason()
    if reason is not None:
        pytest.skip(reason)
    schema = f"civic_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    try:
        seed_demo(url)
        yield url
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def portal(sqlite_url: str) -> Iterator[FakePortal]:
    """Yield a running fake city portal over a seeded SQLite back office."""
    store = SqlBackend.from_url(sqlite_url)
    fake = FakePortal(store, token=PORTAL_TOKEN).start()
    yield fake
    fake.stop()
    store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "http"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Yield each Backend adapter over the same seeded demo city."""
    if request.param == "http":
        fake: FakePortal = request.getfixturevalue("portal")
        client = HttpBackend(fake.url, token=PORTAL_TOKEN, connect_timeout=1, read_timeout=5)
        yield client
        client.close()
        return
    url = request.getfixturevalue(f"{request.param}_url")
    sql = SqlBackend.from_url(url)
    yield sql
    sql.dispose()
