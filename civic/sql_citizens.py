"""Citizens known by phone: name, ID number and language."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from civic.cipher import FieldCipher
from civic.ports import BackendUnavailableError, Citizen
from civic.sql_engine import guarded
from civic.sql_rows import CITIZENS
from civic.sql_tables import citizens


class SqlCitizens:
    """The civic_citizens table."""

    def __init__(self, engine: Engine, cipher: FieldCipher) -> None:
        self._engine = engine
        self._cipher = cipher  # the ID number is sealed at rest (civic/cipher.py)

    @guarded
    def get_citizen(self, phone: str) -> Citizen | None:
        """Return the citizen with this phone, if known."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(citizens).where(citizens.c.phone == phone)).first()
        if row is None:
            return None
        citizen = CITIZENS.read(row)
        return dataclasses.replace(citizen, id_number=self._cipher.open(citizen.id_number))

    @guarded
    def save_citizen(self, citizen: Citizen) -> None:
        """Create or update a citizen."""
        citizen = dataclasses.replace(citizen, id_number=self._cipher.seal(citizen.id_number))
        values = CITIZENS.values(citizen)
        del values["phone"]  # the key: updated by, never updated
        for _ in range(2):
            try:
                with self._engine.begin() as conn:
                    changed = conn.execute(
                        citizens.update().where(citizens.c.phone == citizen.phone).values(values)
                    )
                    if changed.rowcount == 0:
                        conn.execute(citizens.insert().values(CITIZENS.values(citizen)))
                return
            except exc.IntegrityError:
                continue  # inserted concurrently: the update on the next round wins
        raise BackendUnavailableError("could not save the citizen")
