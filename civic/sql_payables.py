"""Payables beyond taxes (school fees, licence renewals): look one up, settle it once.

record_payable_payment is idempotent by payment id, as SqlTaxes.record_payment is: a retried
callback or a second settle of the same intent records nothing twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from civic.ports import Payable, PayableKind, PayablePayment, RecordOutcome
from civic.sql_engine import guarded
from civic.sql_rows import PAYABLE_KINDS, PAYABLE_PAYMENTS, PAYABLES
from civic.sql_tables import payable_kinds, payable_payments, payables


class SqlPayables:
    """Payable kinds (catalogue) and payables a citizen can look up and pay."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @guarded
    def list_payable_kinds(self) -> list[PayableKind]:
        """Return the kinds of payables in display order."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(payable_kinds).order_by(payable_kinds.c.position, payable_kinds.c.code)
            ).all()
        return [PAYABLE_KINDS.read(r) for r in rows]

    @guarded
    def find_payable(self, kind: str, reference: str) -> Payable | None:
        """Return the open payable due first for `reference`, else the last one paid."""
        query = (
            sa.select(payables)
            .where(payables.c.kind == kind, payables.c.reference == reference)
            # Unpaid first (False < True), the earliest due among them; paid: the latest.
            .order_by(payables.c.paid, payables.c.due_date)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return None
        open_ones = [r for r in rows if not r.paid]
        return PAYABLES.read(open_ones[0] if open_ones else rows[-1])

    @guarded
    def get_payable(self, payable_id: str) -> Payable | None:
        """Return a payable by id."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(payables).where(payables.c.id == payable_id)).first()
        return None if row is None else PAYABLES.read(row)

    @guarded
    def record_payable_payment(self, payment: PayablePayment) -> RecordOutcome:
        """Settle a payable; idempotent by `payment.payment_id`."""
        try:
            with self._engine.begin() as conn:
                return _record(conn, payment)
        except exc.IntegrityError:
            # A concurrent call inserted the same payment id first.
            with self._engine.connect() as conn:
                if _payment_exists(conn, payment.payment_id):
                    return RecordOutcome.ALREADY_RECORDED
            raise


def _record(conn: Connection, payment: PayablePayment) -> RecordOutcome:
    if _payment_exists(conn, payment.payment_id):
        return RecordOutcome.ALREADY_RECORDED
    row = conn.execute(sa.select(payables).where(payables.c.id == payment.payable_id)).first()
    if row is None:
        return RecordOutcome.UNKNOWN_PAYABLE
    if row.amount != payment.amount or row.currency != payment.currency:
        return RecordOutcome.AMOUNT_MISMATCH
    settled = conn.execute(
        payables.update()
        .where(payables.c.id == payment.payable_id, payables.c.paid.is_(False))
        .values(paid=True, paid_at=payment.paid_at, receipt_code=payment.receipt_code or None)
    )
    if settled.rowcount == 0:  # paid already, or between our read and write
        return RecordOutcome.PAYABLE_ALREADY_PAID
    conn.execute(payable_payments.insert().values(PAYABLE_PAYMENTS.values(payment)))
    return RecordOutcome.RECORDED


def _payment_exists(conn: Connection, payment_id: str) -> bool:
    found = conn.execute(
        sa.select(payable_payments.c.payment_id).where(payable_payments.c.payment_id == payment_id)
    ).first()
    return found is not None
