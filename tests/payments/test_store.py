"""The payment store: idempotent migration, one active intent per assessment in SQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from payments.model import FailureReason, IntentStatus
from payments.store import NewIntent, PaymentStore, build_engine, intents, migrate, utcnow


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
    first, created = store.create_intent(new("s1:road:100045"))
    again, created_again = store.create_intent(new("s1:road:100045"))
    assert created and not created_again
    assert again.id == first.id


def test_a_second_session_gets_the_active_intent_of_the_assessment(store: PaymentStore) -> None:
    first, _ = store.create_intent(new("s1:road:100045"))
    second, created = store.create_intent(new("s2:road:100045"))
    assert not created
    assert second.id == first.id


def test_the_database_itself_refuses_a_second_active_intent(store: PaymentStore) -> None:
    store.create_intent(new("s1:road:100045"))
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
    first, _ = store.create_intent(new("s1:road:100045"))
    assert store.mark_failed(first.id, FailureReason.CANCELLED)
    second, created = store.create_intent(new("s2:road:100045"))
    assert created and second.id != first.id


def test_only_one_job_wins_the_push_claim(store: PaymentStore) -> None:
    intent, _ = store.create_intent(new("s1:road:100045"))
    assert store.claim_push(intent.id)
    assert not store.claim_push(intent.id)
    claimed = store.get(intent.id)
    assert claimed is not None
    assert claimed.status is IntentStatus.PUSHING and claimed.push_attempts == 1


def test_final_states_do_not_move_back(store: PaymentStore) -> None:
    intent, _ = store.create_intent(new("s1:road:100045"))
    assert store.mark_succeeded(intent.id, "R1")
    assert not store.mark_failed(intent.id, FailureReason.CANCELLED)
    assert not store.expire(intent.id)
    done = store.get(intent.id)
    assert done is not None and done.status is IntentStatus.SUCCEEDED


def test_a_success_after_an_expiry_is_still_recorded(store: PaymentStore) -> None:
    intent, _ = store.create_intent(new("s1:road:100045"))
    assert store.expire(intent.id)
    assert store.mark_succeeded(intent.id, "LATE")
    done = store.get(intent.id)
    assert done is not None and done.status is IntentStatus.SUCCEEDED


def test_identical_callbacks_are_stored_once(store: PaymentStore) -> None:
    first, new_first = store.record_callback("sandbox", '{"a": 1}', "abc")
    again, new_again = store.record_callback("sandbox", '{"a": 1}', "abc")
    other, new_other = store.record_callback("sandbox", '{"a": 2}', "abc")
    assert new_first and not new_again and new_other
    assert again == first != other
