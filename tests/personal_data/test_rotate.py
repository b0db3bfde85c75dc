"""Key rotation: a new key first, `personal-data rotate`, then the old key can go."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from civic import sql as civic_sql
from civic.cipher import DEVELOPMENT_KEY, PREFIX, FieldCipher
from civic.seed import seed_demo
from civic.sql import SqlBackend
from gateway.cli import main

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
    old, new = FieldCipher.from_setting(""), Fernet.generate_key().decode()
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

    only_new = SqlBackend.from_url(url, cipher=FieldCipher([new]))
    found = only_new.get_request(made.reference)
    assert found is not None
    assert (found.id_number, dict(found.dossier)) == ("CD-99", CRIMINAL)
    citizen = only_new.get_citizen("+243810000001")
    assert citizen is not None and citizen.id_number == "CD-1234567"
    assert set(sealed_values(only_new)).isdisjoint(before)
    backend.dispose()
    only_new.dispose()
