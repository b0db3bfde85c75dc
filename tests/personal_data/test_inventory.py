"""The inventory (personal_data.yaml) declares every place the citizen's data lands."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import sqlalchemy as sa

from civic import sql as civic_sql
from civic.sql import make_engine
from gateway.cli.personal_data import replace_tables
from gateway.console import tables as console_tables
from gateway.ussd_events import stream_key
from payments import tables as payment_tables
from personal_data import tables as audit_tables
from personal_data.collectors import events_key
from personal_data.inventory import (
    Inventory,
    load_inventory,
    undeclared_columns,
    undeclared_keys,
)
from runtime import keys
from sms import tables as sms_tables
from tests.personal_data.conftest import BIRTH_DATE, CHILD, CITIZEN, MOTHER, Citizen
from tests.personal_data.scan import redis_keys_naming, sql_columns_naming

ROOT = Path(__file__).resolve().parents[2]
METADATAS = (
    civic_sql.metadata,
    payment_tables.metadata,
    sms_tables.metadata,
    audit_tables.metadata,
    console_tables.metadata,
)
# What identifies the demo citizen wherever it lands: the number (in any format), the names
# and date typed in the dossier, the ID number of the register.
MARKERS = ("243810000001", CHILD, MOTHER, BIRTH_DATE, "CD-1234567")


def without(inventory: Inventory, where: str) -> Inventory:
    """Return the inventory with the entry at `where` forgotten."""
    entries = tuple(e for e in inventory.entries if e.where != where)
    assert len(entries) == len(inventory.entries) - 1
    return dataclasses.replace(inventory, entries=entries)


def test_the_readme_tables_are_the_inventory() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert replace_tables(text) == text, (
        "run python -m gateway personal-data table --write README.md"
    )


def test_every_column_named_like_personal_data_is_declared() -> None:
    inventory = load_inventory()
    assert undeclared_columns(METADATAS, inventory) == []
    extra = sa.MetaData()
    sa.Table(
        "civic_visits", extra, sa.Column("id", sa.Integer), sa.Column("visitor_phone", sa.String)
    )
    sa.Table("civic_pets", extra, sa.Column("owner_name", sa.String), sa.Column("names", sa.JSON))
    assert undeclared_columns([*METADATAS, extra], inventory) == [
        "civic_pets.owner_name",
        "civic_visits.visitor_phone",
    ]
    assert undeclared_columns(METADATAS, without(inventory, "civic_citizens")) == [
        "civic_citizens.id_number",
        "civic_citizens.name",
        "civic_citizens.phone",
    ]


def test_every_redis_key_of_a_citizens_journeys_is_declared(citizen: Citizen) -> None:
    citizen.live_everything()
    personal = redis_keys_naming(citizen.redis, MARKERS)
    # The journeys did reach the stores (not a vacuous pass): session, language, STOP, SMS.
    assert keys.phone_language(CITIZEN) in personal
    assert keys.key("ussd", "resume", keys.tag(CITIZEN)) in personal
    assert any(k.startswith(keys.key("ussd", "s")) for k in personal)
    inventory = load_inventory()
    assert undeclared_keys(personal, inventory, keys.current_prefix()) == []
    forgot = without(inventory, "ussd:lang:{phone}")
    assert undeclared_keys(personal, forgot, keys.current_prefix()) == [
        keys.phone_language(CITIZEN)
    ]
    assert undeclared_keys(["elsewhere:ussd:lang:x"], inventory, keys.current_prefix()) == [
        "elsewhere:ussd:lang:x"
    ]


def test_every_sql_column_of_a_citizens_journeys_is_declared(citizen: Citizen) -> None:
    citizen.live_everything()
    engine = make_engine(citizen.app.config["SETTINGS"].database_url)
    try:
        found = sql_columns_naming(engine, METADATAS, MARKERS)
    finally:
        engine.dispose()
    assert {("civic_requests", "owner_phone"), ("payment_intents", "phone")} <= found
    assert ("civic_requests", "dossier") in found  # the child's name, typed on the phone
    inventory = load_inventory()
    assert undeclared_columns(METADATAS, inventory, found) == []
    assert "civic_payments.phone" in undeclared_columns(
        METADATAS, without(inventory, "civic_payments"), found
    )


def test_the_events_key_is_the_edges() -> None:
    assert events_key() == stream_key()
