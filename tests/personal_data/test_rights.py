"""A citizen's rights: export returns every record of a number across SQL and Redis; erasure
leaves no trace of it outside what must be kept, and both are in the audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from civic.sql import make_engine
from gateway.cli import main
from gateway.config import Settings
from gateway.container import personal_data_stores
from personal_data import rights
from personal_data.collectors import Stores, build_collectors
from personal_data.tables import audit, ensure
from tests.personal_data.conftest import BIRTH_DATE, CHILD, CITIZEN, Citizen
from tests.personal_data.scan import redis_keys_naming, sql_columns_naming
from tests.personal_data.test_inventory import MARKERS, METADATAS


@pytest.fixture
def stores(citizen: Citizen) -> Stores:
    settings: Settings = citizen.app.config["SETTINGS"]
    return personal_data_stores(settings, citizen.redis)


def audit_rows(stores: Stores) -> list[Any]:
    ensure(stores.engine)
    with stores.engine.connect() as conn:
        return list(conn.execute(sa.select(audit).order_by(audit.c.id)).all())


def test_export_returns_every_record_of_the_number(citizen: Citizen, stores: Stores) -> None:
    citizen.live_everything()
    document = rights.export(stores, build_collectors(stores), CITIZEN, operator="agent-7")
    records = document["records"]
    birth = [r for r in records["requests"] if r["dossier"].get("child_name") == CHILD]
    assert len(birth) == 1, "the request filed on the phone is in the export"
    assert birth[0]["dossier"]["birth_date"] == "••••••••21"  # sealed: leaves masked
    assert BIRTH_DATE not in json.dumps(document)
    assert "CD-1234567" not in json.dumps(document)  # the register's ID number, masked too
    assert len(records["requests"]) >= 10  # the demo citizen's seeded requests too
    [booking] = records["appointments"]
    assert (booking["service_code"], booking["status"]) == ("health", "booked")
    assert records["citizen"][0]["name"] == "Amani Kahindo"
    assert records["citizen"][0]["id_number"] == "••••••••67"
    assert {p.get("assessment_id") for p in records["payments"]} >= {"road-100001-2026"}
    assert {p.get("payable_id") for p in records["payments"]} >= {"school_fees-T1202627-200002"}
    intents = records["payment_intents"]
    assert len(intents) == 3 and all(i["receipts"] for i in intents)  # tax, fees, document fee
    assert records["preferences"] == [{"language": "en"}]
    assert [(p["opted_out"], p["lang"]) for p in records["sms_preferences"]] == [(1, "en")]
    assert {m["template"] for m in records["sms_log"]} >= {"payment_receipt", "reply_stop"}
    assert sorted(m["text"] for m in records["sms_inbound"]) == [
        "LANGUE en",
        "STATUT 10000012",
        "STOP",
    ]
    templates = {m["template"] for m in records["sms_messages"]}
    assert {"payment_receipt", "request_fee_receipt", "reply_stop"} <= templates
    assert any(s.get("screen") for s in records["ussd_sessions"])
    assert records["ussd_events"], "the finished sessions' events, by keyed hash"
    [row] = audit_rows(stores)
    assert (row.act, row.operator, row.phone_ref) == (
        "export",
        "agent-7",
        stores.phone_ref(CITIZEN),
    )
    assert row.counts["requests"] == len(records["requests"])
    json.dumps(document)  # JSON all the way down


def test_erasure_leaves_no_trace_outside_what_must_be_kept(
    citizen: Citizen, stores: Stores
) -> None:
    citizen.live_everything()
    engine = make_engine(citizen.app.config["SETTINGS"].database_url)
    with engine.connect() as conn:
        paid_before = conn.execute(sa.text("SELECT count(*) FROM civic_payments")).scalar_one()
    counts = rights.erase(
        stores, build_collectors(stores), CITIZEN, reason="demande 42", operator="agent-7"
    )
    assert counts["requests"] >= 10 and counts["payment_intents"] == 3
    # Redis: nothing names them any more (STOP is kept in SQL under a keyed hash).
    assert redis_keys_naming(citizen.redis, MARKERS) == set()
    # SQL: no column holds the number, the names typed or the ID any more...
    try:
        assert sql_columns_naming(engine, METADATAS, MARKERS) == set()
        with engine.connect() as conn:
            phones = conn.execute(sa.text("SELECT phone FROM civic_payments")).scalars().all()
            kept_intents = (
                conn.execute(sa.text("SELECT phone FROM payment_intents")).scalars().all()
            )
            receipts = conn.execute(sa.text("SELECT count(*) FROM payment_receipts")).scalar_one()
            owners = conn.execute(sa.text("SELECT DISTINCT owner_phone FROM civic_requests"))
            owners_list = owners.scalars().all()
    finally:
        engine.dispose()
    # ... while payments, receipts and requests are kept under the keyed hash.
    ref = "ref:" + stores.phone_ref(CITIZEN)
    assert len(phones) == paid_before and ref in phones
    assert set(kept_intents) == {ref}
    assert receipts == 3
    assert owners_list == [ref]
    with engine.connect() as conn:
        [booking] = conn.execute(sa.text("SELECT phone, status, seat FROM civic_appointments"))
    assert tuple(booking) == (ref, "cancelled", None)  # its place goes back to the others
    [row] = audit_rows(stores)
    assert (row.act, row.reason, row.phone_ref) == (
        "erase",
        "demande 42",
        stores.phone_ref(CITIZEN),
    )
    assert "243810000001" not in json.dumps(row.counts)
    again = rights.export(stores, build_collectors(stores), CITIZEN, operator="agent-7")
    assert [(p["opted_out"], p["lang"]) for p in again["records"]["sms_preferences"]] == [
        (1, None)
    ]  # the objection to notices stays; the language goes
    assert sum(len(v) for v in again["records"].values()) == 1


def test_an_erasure_needs_a_reason(stores: Stores) -> None:
    with pytest.raises(ValueError, match="reason"):
        rights.erase(stores, build_collectors(stores), CITIZEN, reason=" ", operator="a")
    assert audit_rows(stores) == []


def test_the_commands_export_and_erase(
    citizen: Citizen, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    citizen.pay_a_tax()
    settings: Settings = citizen.app.config["SETTINGS"]
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    out = tmp_path / "copy.json"
    assert main(["personal-data", "export", "--phone", "+243 81 000 0001", "--out", str(out),
                 "--operator", "guichet-2"]) == 0  # fmt: skip
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported["phone"] == CITIZEN and exported["records"]["payment_intents"]
    assert main(["personal-data", "erase", "--phone", CITIZEN, "--reason", "demande 43"]) == 0
    printed = capsys.readouterr().out
    assert "erased +243 81•••••01: requests" in printed and CITIZEN not in printed
    assert main(["personal-data", "export", "--phone", "12"]) == 2
    assert "not an international number" in capsys.readouterr().err
