"""The payment store: idempotent migration, one active intent per assessment in SQL."""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import IntegrityError

from civic.sql import make_engine
from gateway.schema import migrate_payments as migrate
from payments.intent_store import CREATE_ATTEMPTS, IntentConflictError, NewIntent
from payments.model import FailureReason, Intent, IntentStatus, PaymentKind
from payments.store import SQL_TIMEOUT_SECONDS, PaymentStore
from payments.tables import intents, utcnow


def build_engine(url: str) -> Engine:
    """Return the engine the composition root gives PaymentStore (gateway.container)."""
    return make_engine(url, timeout=SQL_TIMEOUT_SECONDS)


@pytest.fixture
def store(tmp_path: Path) -> PaymentStore:
    url = f"sqlite:///{tmp_path / 'var' / 'pay.db'}"
    migrate(url)
    migrate(url)  # idempotent
    return PaymentStore(build_engine(url))


def new(key: str, assessment: str = "road-100045") -> NewIntent:
    return NewIntent(
        idempotency_key=key,
        session_id=key,
        assessment_id=assessment,
        assessment_reference="100045",
        tax_code="road",
        amount=25000,
        currency="CDF",
        phone="+243810000001",
        operator="airtel",
        provider="sandbox",
        lang="fr",
        deadline_at=utcnow() + timedelta(minutes=10),
    )


def test_same_idempotency_key_returns_the_same_intent(store: PaymentStore) -> None:
    first, created = store.intents.create_intent(new("s1:road:100045"))
    again, created_again = store.intents.create_intent(new("s1:road:100045"))
    assert created and not created_again
    assert again.id == first.id


def test_a_second_session_gets_the_active_intent_of_the_assessment(store: PaymentStore) -> None:
    first, _ = store.intents.create_intent(new("s1:road:100045"))
    second, created = store.intents.create_intent(new("s2:road:100045"))
    assert not created
    assert second.id == first.id


def test_every_intent_field_is_one_column_and_reads_back(store: PaymentStore) -> None:
    assert {f.name for f in fields(Intent)} == set(intents.c.keys())
    asked = new("s1:road:100045")
    assert set(asdict(asked)) < {f.name for f in fields(Intent)}
    created, _ = store.intents.create_intent(asked)
    found = store.intents.get(created.id)
    assert found == created
    assert {k: getattr(found, k) for k in asdict(asked)} == asdict(asked)


def test_creating_gives_up_with_a_clear_error_when_the_database_keeps_refusing(
    store: PaymentStore,
) -> None:
    with store._engine.begin() as conn:  # a refusal no existing intent explains
        conn.execute(
            text(
                "CREATE TRIGGER refuse_intents BEFORE INSERT ON payment_intents"
                " BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    with pytest.raises(IntentConflictError, match=f"{CREATE_ATTEMPTS} times"):
        store.intents.create_intent(new("s1:road:100045"))


def test_the_database_itself_refuses_a_second_active_intent(store: PaymentStore) -> None:
    store.intents.create_intent(new("s1:road:100045"))
    now = utcnow()
    row = {
        **{f: getattr(new("raw"), f) for f in NewIntent.__dataclass_fields__},
        "id": "raw-insert",
        "status": "pushed",
        "push_attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    with pytest.raises(IntegrityError), store._engine.begin() as conn:
        conn.execute(insert(intents).values(**row))


def test_a_new_intent_is_allowed_once_the_previous_one_failed(store: PaymentStore) -> None:
    first, _ = store.intents.create_intent(new("s1:road:100045"))
    assert store.intents.mark_failed(first.id, FailureReason.CANCELLED)
    second, created = store.intents.create_intent(new("s2:road:100045"))
    assert created and second.id != first.id


def test_only_one_job_wins_the_push_claim(store: PaymentStore) -> None:
    intent, _ = store.intents.create_intent(new("s1:road:100045"))
    assert store.intents.claim_push(intent.id)
    assert not store.intents.claim_push(intent.id)
    claimed = store.intents.get(intent.id)
    assert claimed is not None
    assert claimed.status is IntentStatus.PUSHING and claimed.push_attempts == 1


def test_final_states_do_not_move_back(store: PaymentStore) -> None:
    intent, _ = store.intents.create_intent(new("s1:road:100045"))
    assert store.intents.mark_succeeded(intent.id, "R1")
    assert not store.intents.mark_failed(intent.id, FailureReason.CANCELLED)
    assert not store.intents.expire(intent.id)
    done = store.intents.get(intent.id)
    assert done is not None and done.status is IntentStatus.SUCCEEDED


def test_a_success_after_an_expiry_is_still_recorded(store: PaymentStore) -> None:
    intent, _ = store.intents.create_intent(new("s1:road:100045"))
    assert store.intents.expire(intent.id)
    assert store.intents.mark_succeeded(intent.id, "LATE")
    done = store.intents.get(intent.id)
    assert done is not None and done.status is IntentStatus.SUCCEEDED


def test_identical_callbacks_are_stored_once(store: PaymentStore) -> None:
    first, new_first = store.callbacks.record_callback("sandbox", '{"a": 1}', "abc")
    again, new_again = store.callbacks.record_callback("sandbox", '{"a": 1}', "abc")
    other, new_other = store.callbacks.record_callback("sandbox", '{"a": 2}', "abc")
    assert new_first and not new_again and new_other
    assert again == first != other


def test_a_database_older_than_kinds_is_upgraded_and_reads_as_taxes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'old.db'}"
    migrate(url)
    engine = build_engine(url)
    old = PaymentStore(engine)
    before, _ = old.intents.create_intent(new("s1:road:100045"))
    with engine.begin() as conn:  # back to the tables as they were before kinds
        conn.execute(text("DROP INDEX uq_payment_intents_one_active"))
        conn.execute(text("ALTER TABLE payment_intents DROP COLUMN kind"))
        conn.execute(text("ALTER TABLE payment_receipts DROP COLUMN kind"))
        conn.execute(
            text(
                "CREATE UNIQUE INDEX uq_payment_intents_one_active ON payment_intents"
                " (assessment_id) WHERE status IN ('pending', 'pushing', 'pushed')"
            )
        )
    migrate(url)
    store = PaymentStore(build_engine(url))
    upgraded = store.intents.get(before.id)
    assert upgraded is not None and upgraded.kind is PaymentKind.TAX_ASSESSMENT
    fee, created = store.intents.create_intent(
        replace(new("s1:fee:10000012", assessment="request:10000012"), kind=PaymentKind.REQUEST_FEE)
    )
    assert created and fee.kind is PaymentKind.REQUEST_FEE
    # One active intent per subject, whatever its kind: a twin gets the same one.
    twin, created = store.intents.create_intent(
        replace(new("s2:fee:10000012", assessment="request:10000012"), kind=PaymentKind.REQUEST_FEE)
    )
    assert not created and twin.id == fee.id
