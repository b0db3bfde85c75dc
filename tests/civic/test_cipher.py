"""ID numbers and dates of birth are sealed at rest (civic/cipher.py) and read back whole."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from civic import sql
from civic.cipher import PREFIX, CipherKeyError, FieldCipher, mask_value
from civic.ports import Citizen

OWNER = "+243810000077"
DOSSIER = {"birth_date": "14/02/1990", "birth_place": "Goma", "purpose": "job"}


def raw_request(backend: sql.SqlBackend, reference: str) -> sa.Row[object]:
    with backend.engine.connect() as conn:
        return conn.execute(
            sa.select(sql.requests).where(sql.requests.c.reference == reference)
        ).one()


def new_request(backend: sql.SqlBackend, key: str = "k1") -> str:
    request = backend.create_request(
        owner_phone=OWNER,
        document_code="criminal",
        idempotency_key=key,
        applicant_name="Neema Kahindo",
        id_number="CD-7654321",
        dossier=DOSSIER,
    )
    return request.reference


def test_id_numbers_and_dates_of_birth_are_sealed_in_sql_and_read_whole(sqlite_url: str) -> None:
    backend = sql.SqlBackend.from_url(
        sqlite_url, cipher=FieldCipher([Fernet.generate_key().decode()])
    )
    try:
        reference = new_request(backend)
        row = raw_request(backend, reference)
        assert row.id_number.startswith(PREFIX) and "7654321" not in row.id_number
        assert row.dossier["birth_date"].startswith(PREFIX)
        assert "1990" not in str(row.dossier)
        assert row.dossier["birth_place"] == "Goma"  # not an identity value: kept as typed
        found = backend.get_request(reference)
        assert found is not None
        assert (found.id_number, dict(found.dossier)) == ("CD-7654321", DOSSIER)
        assert backend.list_requests(owner_phone=OWNER)[0].dossier["birth_date"] == "14/02/1990"
        backend.save_citizen(Citizen(phone=OWNER, name="N", id_number="CD-7654321", language="fr"))
        with backend.engine.connect() as conn:
            stored = conn.execute(
                sa.select(sql.citizens.c.id_number).where(sql.citizens.c.phone == OWNER)
            ).scalar_one()
        assert stored.startswith(PREFIX)
        citizen = backend.get_citizen(OWNER)
        assert citizen is not None and citizen.id_number == "CD-7654321"
    finally:
        backend.dispose()


def test_a_new_key_first_still_opens_what_the_old_key_sealed() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = FieldCipher([old]).seal("CD-1")
    rotated = FieldCipher([new, old])
    assert rotated.open(sealed) == "CD-1"
    resealed = rotated.reseal(sealed)
    assert FieldCipher([new]).open(resealed) == "CD-1"
    assert FieldCipher([old]).open(resealed) != "CD-1"  # only the new key opens it now
    assert rotated.open("plain legacy") == "plain legacy"


def test_a_bad_key_is_refused_and_masks_keep_two_characters() -> None:
    with pytest.raises(CipherKeyError, match="key 2 is not a Fernet key"):
        FieldCipher([Fernet.generate_key().decode(), "short"])
    assert mask_value("CD-7654321") == "••••••••21"
    assert mask_value("14/02/1990") == "••••••••90"
