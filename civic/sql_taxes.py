"""Tax assessments and their settlement: record_payment is idempotent by payment id."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from civic.ports import Assessment, PaymentRecord, RecordOutcome
from civic.sql_engine import guarded
from civic.sql_rows import ASSESSMENTS, PAYMENTS
from civic.sql_tables import assessments, payments


class SqlTaxes:
    """Assessments a citizen can look up and pay."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @guarded
    def find_assessment(self, tax_code: str, reference: str) -> Assessment | None:
        """Return the assessment of `reference` for `tax_code`, if any."""
        query = sa.select(assessments).where(
            assessments.c.tax_code == tax_code, assessments.c.reference == reference
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else ASSESSMENTS.read(row)

    @guarded
    def get_assessment(self, assessment_id: str) -> Assessment | None:
        """Return an assessment by id."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(assessments).where(assessments.c.id == assessment_id)
            ).first()
        return None if row is None else ASSESSMENTS.read(row)

    @guarded
    def record_payment(self, record: PaymentRecord) -> RecordOutcome:
        """Settle an assessment; idempotent by `record.payment_id`."""
        try:
            with self._engine.begin() as conn:
                return self._record_payment(conn, record)
        except exc.IntegrityError:
            # A concurrent call inserted the same payment id first.
            with self._engine.connect() as conn:
                if _payment_exists(conn, record.payment_id):
                    return RecordOutcome.ALREADY_RECORDED
            raise

    def _record_payment(self, conn: Connection, record: PaymentRecord) -> RecordOutcome:
        if _payment_exists(conn, record.payment_id):
            return RecordOutcome.ALREADY_RECORDED
        row = conn.execute(
            sa.select(assessments).where(assessments.c.id == record.assessment_id)
        ).first()
        if row is None:
            return RecordOutcome.UNKNOWN_ASSESSMENT
        if row.amount != record.amount or row.currency != record.currency:
            return RecordOutcome.AMOUNT_MISMATCH
        if row.paid:
            # Settled since our first check, maybe by a twin of this call (a retried callback).
            if _payment_exists(conn, record.payment_id):
                return RecordOutcome.ALREADY_RECORDED
            return RecordOutcome.ASSESSMENT_ALREADY_PAID
        settled = conn.execute(
            assessments.update()
            .where(assessments.c.id == record.assessment_id, assessments.c.paid.is_(False))
            .values(paid=True, paid_at=record.paid_at)
        )
        if settled.rowcount == 0:  # settled between our read and write: by a twin of this call?
            if _payment_exists(conn, record.payment_id):
                return RecordOutcome.ALREADY_RECORDED
            return RecordOutcome.ASSESSMENT_ALREADY_PAID
        conn.execute(payments.insert().values(PAYMENTS.values(record)))
        return RecordOutcome.RECORDED


def _payment_exists(conn: Connection, payment_id: str) -> bool:
    found = conn.execute(
        sa.select(payments.c.payment_id).where(payments.c.payment_id == payment_id)
    ).first()
    return found is not None
