"""`python -m gateway migrate` adds the payment indexes a newer version declared to an older
database (create_all only adds tables)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from gateway.schema import migrate_payments
from payments.tables import intents


def test_an_older_database_gets_the_new_intent_indexes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate_payments(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the database as an older version left it
        conn.execute(sa.text("DROP INDEX ix_payment_intents_assessment"))
        conn.execute(sa.text("DROP INDEX ix_payment_intents_phone"))
    names = {i["name"] for i in sa.inspect(engine).get_indexes(intents.name)}
    assert "ix_payment_intents_assessment" not in names
    migrate_payments(url)
    migrate_payments(url)  # idempotent
    names = {i["name"] for i in sa.inspect(engine).get_indexes(intents.name)}
    engine.dispose()
    assert {"ix_payment_intents_assessment", "ix_payment_intents_phone"} <= names
