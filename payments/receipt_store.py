"""Issued receipts in SQL: one serial per succeeded intent, its signed code, found again by
serial (the verifier), by phone (My payments) or by assessment ("already paid")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from payments.model import Intent, PaymentKind
from payments.paid_for import PaidFor, paid_for_receipt
from payments.receipts import ReceiptCodec, ReceiptFields
from payments.tables import intents, receipts, utcnow


@dataclass(frozen=True, slots=True)
class StoredReceipt:
    """One issued receipt as the citizen finds it again: code, amount, what and when."""

    serial: int
    code: str
    amount: int
    currency: str
    paid_for: PaidFor
    paid_on: date


class ReceiptStore:
    """Receipts (payment_receipts): every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def issue_receipt(self, intent: Intent, paid_on: date, codec: ReceiptCodec) -> str:
        """Return the intent's receipt code, allocating a serial the first time (idempotent)."""
        fields = ReceiptFields(
            amount=intent.amount,
            currency=intent.currency,
            tax=intent.tax_code,
            reference=intent.assessment_reference,
            date=paid_on,
            kind=intent.kind.value,
        )
        try:
            with self._engine.begin() as conn:
                result = conn.execute(
                    insert(receipts).values(
                        intent_id=intent.id,
                        amount=fields.amount,
                        currency=fields.currency,
                        tax_code=fields.tax,
                        reference=fields.reference,
                        paid_on=fields.date,
                        created_at=utcnow(),
                        kind=fields.kind,
                    )
                )
                pk = result.inserted_primary_key
                assert pk is not None
                serial = int(pk[0])
                code = codec.issue(serial, fields)
                conn.execute(update(receipts).where(receipts.c.serial == serial).values(code=code))
                return code
        except IntegrityError:
            with self._engine.connect() as conn:
                existing = conn.execute(
                    select(receipts.c.code).where(receipts.c.intent_id == intent.id)
                ).scalar_one()
            return str(existing)

    def receipt_fields(self, serial: int) -> ReceiptFields | None:
        """Return the fields of receipt `serial` (the verifier re-checks their MAC)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(receipts).where(receipts.c.serial == serial)).first()
        if row is None:
            return None
        return ReceiptFields(
            amount=int(row.amount),
            currency=row.currency,
            tax=row.tax_code,
            reference=row.reference,
            date=row.paid_on,
            kind=row.kind or PaymentKind.TAX_ASSESSMENT.value,
        )

    def receipts_for_phone(self, phone: str, limit: int = 30) -> list[StoredReceipt]:
        """Return the receipts of payments made from `phone`, newest first."""
        query = (
            select(receipts)
            .join(intents, intents.c.id == receipts.c.intent_id)
            .where(intents.c.phone == phone, receipts.c.code.is_not(None))
            .order_by(receipts.c.serial.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            StoredReceipt(
                serial=int(row.serial),
                code=str(row.code),
                amount=int(row.amount),
                currency=row.currency,
                paid_for=paid_for_receipt(row.kind, row.tax_code, row.reference),
                paid_on=row.paid_on,
            )
            for row in rows
        ]

    def receipt_code_for_assessment(self, assessment_id: str) -> str | None:
        """Return the code of the receipt that paid `assessment_id`, if we issued one."""
        query = (
            select(receipts.c.code)
            .join(intents, intents.c.id == receipts.c.intent_id)
            .where(intents.c.assessment_id == assessment_id, receipts.c.code.is_not(None))
            .order_by(receipts.c.serial.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            code = conn.execute(query).scalar()
        return None if code is None else str(code)

    def count_receipts(self) -> int:
        """Return how many receipts were issued."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(receipts)).scalar_one())
