"""ReceiptBook and PaidFor on every back office: payments in SQLite or PostgreSQL, names from
the SQL back office or the city portal over HTTP."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from civic.http import HttpBackend
from civic.ports import Backend
from civic.seed import seed_demo
from civic.sql import SqlBackend, make_engine
from gateway.schema import migrate_payments as migrate
from payments.intent_store import NewIntent
from payments.paid_for import PaidFor, PaymentKind, describe
from payments.receipt_book import ReceiptBook
from payments.receipts import ReceiptCodec, ReceiptVerifier, normalize
from payments.store import SQL_TIMEOUT_SECONDS, PaymentStore
from payments.tables import utcnow
from tests.civic.conftest import PG_DSN, PORTAL_TOKEN
from tests.civic.fake_portal import FakePortal


def build_engine(url: str) -> Engine:
    """Return the engine the composition root gives PaymentStore (gateway.container)."""
    return make_engine(url, timeout=SQL_TIMEOUT_SECONDS)


A, B = "+243810000001", "+243990000002"
KEY = b"test-receipt-key-0123456789abcdef"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield a seeded, migrated database: a SQLite file or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'guichet.db'}"
        seed_demo(url)
        migrate(url)
        yield url
        return
    try:
        psycopg.connect(PG_DSN).close()
    except psycopg.Error as error:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 ({type(error).__name__})")
    schema = f"pay_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    try:
        seed_demo(url)
        migrate(url)
        yield url
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sql", "http"])
def backend(request: pytest.FixtureRequest, database_url: str) -> Iterator[Backend]:
    """Yield the back office that names taxes and documents: SQL, or the portal over HTTP."""
    sql = SqlBackend.from_url(database_url)
    if request.param == "sql":
        yield sql
    else:
        fake = FakePortal(sql, token=PORTAL_TOKEN).start()
        client = HttpBackend(fake.url, token=PORTAL_TOKEN, connect_timeout=1, read_timeout=5)
        yield client
        client.close()
        fake.stop()
    sql.dispose()


def paid(store: PaymentStore, codec: ReceiptCodec, phone: str, ref: str, day: date) -> str:
    """Record a settled payment of road tax `ref` from `phone`; return its receipt code."""
    intent, _ = store.intents.create_intent(
        NewIntent(
            idempotency_key=f"s-{ref}", session_id=f"s-{ref}", assessment_id=f"road-{ref}",
            assessment_reference=ref, tax_code="road", amount=26500, currency="CDF",
            phone=phone, operator="airtel", provider="sandbox", lang="fr",
            deadline_at=utcnow() + timedelta(minutes=10),
        )
    )  # fmt: skip
    assert store.intents.mark_succeeded(intent.id, "R1")
    code = store.receipts.issue_receipt(intent, day, codec)
    assert store.intents.mark_settled(intent.id, "recorded", code)
    return code


def test_a_phones_receipts_newest_first_described_in_its_language(
    request: pytest.FixtureRequest, database_url: str, backend: Backend
) -> None:
    engine = build_engine(database_url)
    request.addfinalizer(engine.dispose)
    store = PaymentStore(engine)
    codec = ReceiptCodec(KEY)
    receipts = store.receipts
    book = ReceiptBook(receipts, ReceiptVerifier(codec, receipts.receipt_fields), backend)
    assert book.mine(A, "fr") == [] and book.latest_codes(A, 3) == []
    first = paid(store, codec, A, "100011", date(2026, 11, 2))
    other = paid(store, codec, B, "100012", date(2026, 11, 3))
    last = paid(store, codec, A, "100013", date(2026, 11, 4))
    assert book.latest_codes(A, 3) == [last, first]
    [newest, oldest] = book.mine(A, "sw")
    assert (newest.code, newest.what, newest.date, newest.amount) == (
        last, "Kodi ya barabara", "04/11/2026", 26500
    )  # fmt: skip
    assert oldest.code == first and other not in book.latest_codes(A, 3)
    assert book.code_for_assessment("road-100012") == other
    assert book.code_for_assessment("road-100001") is None
    for typed in (last, normalize(last) or "", last.replace("-", " ")):
        answer = book.check(typed, "en")
        assert (answer.status, answer.code) == ("valid", last)
        assert answer.params == {
            "amount": 26500, "currency": "CDF", "tax": "Road tax", "ref": "100013",
            "date": "04/11/2026",
        }  # fmt: skip
    assert book.check(last[:-1] + str((int(last[-1]) + 1) % 10), "en").status == "mistyped"


def test_what_was_paid_is_named_from_one_function_for_every_kind(backend: Backend) -> None:
    assert (
        describe(backend, PaidFor(PaymentKind.TAX_ASSESSMENT, "road", "100001"), "fr")
        == "Taxe de voirie"
    )
    document = backend.list_document_types()[0]
    fee = PaidFor(PaymentKind.REQUEST_FEE, document.code, "10000012")
    assert describe(backend, fee, "en") == document.names["en"]
    assert not re.fullmatch(r"[a-z_]+", describe(backend, fee, "sw"))  # a name, not a code
    assert describe(backend, PaidFor(PaymentKind.TAX_ASSESSMENT, "gone", "1"), "fr") == "gone"
