"""The city's catalogue as loaded into the database: taxes, documents and offices."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from civic.ports import DocumentType, Office, TaxType
from civic.sql_engine import guarded
from civic.sql_rows import document_type_from_row, office_from_row
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
        return [TaxType(code=r.code, names=dict(r.names)) for r in rows]

    @guarded
    def list_document_types(self) -> list[DocumentType]:
        """Return the documents citizens can request, in display order."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(document_types).order_by(document_types.c.position, document_types.c.code)
            ).all()
        return [document_type_from_row(r) for r in rows]

    @guarded
    def get_document_type(self, code: str) -> DocumentType | None:
        """Return one document type."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(document_types).where(document_types.c.code == code)
            ).first()
        return None if row is None else document_type_from_row(row)

    @guarded
    def list_offices(self) -> list[Office]:
        """Return the offices where documents are collected."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(offices).order_by(offices.c.position, offices.c.id)).all()
        return [office_from_row(r) for r in rows]

    @guarded
    def get_office(self, office_id: str) -> Office | None:
        """Return one office."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(offices).where(offices.c.id == office_id)).first()
        return None if row is None else office_from_row(row)
