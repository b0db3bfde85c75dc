"""The city's catalogue as loaded into the database: taxes, documents and offices."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from civic.ports import DocumentType, Office, TaxType
from civic.sql_engine import guarded
from civic.sql_rows import DOCUMENT_TYPES, OFFICES, TAX_TYPES
from civic.sql_tables import document_types, offices, tax_types


class SqlCatalogue:
    """What citizens can pay and request, and where they collect it (read only)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @guarded
    def list_tax_types(self) -> list[TaxType]:
        """Return the city's taxes in display order."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(tax_types).order_by(tax_types.c.position, tax_types.c.code)
            ).all()
        return [TAX_TYPES.read(r) for r in rows]

    @guarded
    def list_document_types(self) -> list[DocumentType]:
        """Return the documents citizens can request, in display order."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(document_types).order_by(document_types.c.position, document_types.c.code)
            ).all()
        return [DOCUMENT_TYPES.read(r) for r in rows]

    @guarded
    def get_document_type(self, code: str) -> DocumentType | None:
        """Return one document type."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(document_types).where(document_types.c.code == code)
            ).first()
        return None if row is None else DOCUMENT_TYPES.read(row)

    @guarded
    def list_offices(self) -> list[Office]:
        """Return the offices where documents are collected."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(offices).order_by(offices.c.position, offices.c.id)).all()
        return [OFFICES.read(r) for r in rows]

    @guarded
    def get_office(self, office_id: str) -> Office | None:
        """Return one office."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(offices).where(offices.c.id == office_id)).first()
        return None if row is None else OFFICES.read(row)
