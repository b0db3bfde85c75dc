"""Key rotation: a new key first, `personal-data rotate`, then the old key can go."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from civic import sql as civic_sql
from civic.seed import seed_demo
from civic.sql import SqlBackend
from gateway.cli import main
from runtime.sealing import DEVELOPMENT_KEY, PREFIX, Sealer
from sms import tables as sms_tables
from sms.message_log import MessageLog
from sms.wiring import log_engine

CRIMINAL = {"birth_date": "14/02/1990", "birth_place": "Goma", "purpose": "job"}


def sealed_values(backend: SqlBackend) -> list[str]:
    t, c = civic_sql.requests, civic_sql.citizens
    with backend.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.id_number, t.c.dossier)).all()
        citizens = conn.execute(sa.select(c.c.id_number)).scalars().all()
    values = [r.id_number for r in rows if r.id_number] + [v for v in citizens if v]
    values += [v for r in rows for v in (r.dossier or {}).values() if v.startswith(PREFIX)]
    return values


def test_rotate_reseals_everything_under_the_new_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    url = f"sqlite:///{tmp_path / 'civic.db'}"
    seed_demo(url)  # sealed with the development key
    old, new = Sealer.from_setting(""), Fernet.generate_key().decode()
    backend = SqlBackend.from_url(url, cipher=old)
    made = backend.create_request(
        owner_phone="+243810000009", document_code="criminal", idempotency_key="r1",
        applicant_name="Neema", id_number="CD-99", dossier=CRIMINAL,
    )  # fmt: skip
    before = sealed_values(backend)
    assert len(before) >= 5 and all(v.startswith(PREFIX) for v in before)

    new_first = f"{new},{DEVELOPMENT_KEY}"  # the new key first, the old one after it
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("PERSONAL_DATA_KEYS", new_first)
    assert main(["personal-data", "rotate"]) == 0
    assert "re-sealed: requests" in capsys.readouterr().out

    only_new = SqlBackend.from_url(url, cipher=Sealer([new]))
    found = only_new.get_request(made.reference)
    assert found is not None
    assert (found.id_number, dict(found.dossier)) == ("CD-99", CRIMINAL)
    citizen = only_new.get_citizen("+243810000001")
    assert citizen is not None and citizen.id_number == "CD-1234567"
    assert set(sealed_values(only_new)).isdisjoint(before)
    backend.dispose()
    only_new.dispose()


def _queue(log: MessageLog, message_id: str, sealed_phone: str) -> None:
    fields = {
        "phone_masked": "+243 81•••••09", "phone_ref": "ref", "template": "request_created",
        "lang": "fr", "params": "{}", "essential": 1, "status": "queued",
    }  # fmt: skip
    log.record(message_id, f"idem-{message_id}", fields, sealed_phone)


def test_rotate_reseals_the_numbers_of_queued_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    url = f"sqlite:///{tmp_path / 'guichet.db'}"
    engine = log_engine(url)
    log = MessageLog(engine)
    otp_key = "an-otp-key-of-this-city"
    # Sealed with the development key, and as the log did before PERSONAL_DATA_KEYS: a bare
    # token under a key derived from OTP_KEY. A third no configured key opens.
    old_key = hmac.new(otp_key.encode(), b"sms-message-log-seal", hashlib.sha256).digest()
    legacy = Fernet(base64.urlsafe_b64encode(old_key)).encrypt(b"+243810000008").decode()
    lost = Sealer([Fernet.generate_key().decode()]).seal("+243810000007") or ""
    _queue(log, "m1", Sealer.from_setting("").seal("+243810000009") or "")
    _queue(log, "m2", legacy)
    _queue(log, "m3", lost)

    new = Fernet.generate_key().decode()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("OTP_KEY", otp_key)
    monkeypatch.setenv("PERSONAL_DATA_KEYS", f"{new},{DEVELOPMENT_KEY}")
    assert main(["personal-data", "rotate"]) == 0
    out = capsys.readouterr().out
    assert "messages 2" in out and "messages left unreadable 1" in out

    t = sms_tables.messages
    with engine.connect() as conn:
        sealed = {r.id: r.sealed_phone for r in conn.execute(sa.select(t.c.id, t.c.sealed_phone))}
    only_new = Sealer([new])
    assert only_new.unseal(sealed["m1"]) == "+243810000009"
    assert only_new.unseal(sealed["m2"]) == "+243810000008"
    assert sealed["m3"] == lost  # left as it was: recovery reports it lost
    engine.dispose()
