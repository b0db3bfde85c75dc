"""The demo city's payables (cities/<id>/catalogue.yaml `payable_kinds`, `payables`) as SQL rows.

Kinds are refreshed on every run; payables are only added when missing, so a payment made
during a demo is never undone by seeding again (as for assessments).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from civic.sql_tables import payable_kinds, payables

ID_MAX: Final = 32  # payment_receipts.tax_code keeps the payable id
LOCALIZED: Final = ("names", "reference_label", "receipt")


class PayableSeedError(ValueError):
    """The demo file's payables are malformed."""


def kind_rows(kinds: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the civic_payable_kinds rows of the catalogue's `payable_kinds`."""
    rows = []
    for position, kind in enumerate(kinds):
        pattern = str(kind["pattern"])
        try:
            re.compile(pattern)
        except re.error as error:
            raise PayableSeedError(f"payable kind {kind['code']}: bad pattern: {error}") from error
        rows.append(
            {
                "code": str(kind["code"]),
                "position": position,
                "pattern": pattern,
                **{key: {str(k): str(v) for k, v in kind[key].items()} for key in LOCALIZED},
            }
        )
    return rows


def payable_id(kind: str, period: str, reference: str) -> str:
    """Return the id of `kind`'s payable of `reference` for `period` (at most ID_MAX long)."""
    found = f"{kind}-{re.sub(r'[^A-Za-z0-9]+', '', period)}-{reference}"
    if len(found) > ID_MAX:
        raise PayableSeedError(f"payable id {found!r} is longer than {ID_MAX}")
    return found


def payable_rows(blocks: list[Mapping[str, Any]], currency: str) -> Iterator[dict[str, Any]]:
    """Yield the civic_payables rows of the catalogue's `payables` blocks."""
    for block in blocks:
        kind, period = str(block["kind"]), str(block["period"])
        due = block["due_date"]
        payers = [str(p) for p in block["payers"]]
        for number in range(int(block["first"]), int(block["last"]) + 1):
            reference = str(number)
            yield {
                "id": payable_id(kind, period, reference),
                "kind": kind,
                "reference": reference,
                "payer": payers[number % len(payers)],
                "amount": int(block["base_amount"]) + (number % 10) * int(block["amount_step"]),
                "currency": currency,
                "period": period,
                "due_date": due if isinstance(due, date) else date.fromisoformat(str(due)),
                "paid": number % int(block["paid_every"]) == 0,
                "paid_at": None,
                "receipt_code": None,
            }


def seed_payables(conn: Connection, city: Mapping[str, Any], currency: str) -> int:
    """Refresh the payable kinds and add the missing payables; return how many were added."""
    kinds = kind_rows(city.get("payable_kinds") or [])
    known = set(conn.execute(sa.select(payable_kinds.c.code)).scalars())
    for row in kinds:
        if row["code"] in known:
            conn.execute(
                payable_kinds.update().where(payable_kinds.c.code == row["code"]).values(row)
            )
        else:
            conn.execute(payable_kinds.insert().values(row))
    declared = {row["code"] for row in kinds}
    rows = list(payable_rows(city.get("payables") or [], currency))
    unknown = sorted({r["kind"] for r in rows} - declared)
    if unknown:
        raise PayableSeedError(f"payables of undeclared kinds: {', '.join(unknown)}")
    existing = set(conn.execute(sa.select(payables.c.id)).scalars())
    missing = [r for r in rows if r["id"] not in existing]
    if missing:
        conn.execute(payables.insert(), missing)
    return len(missing)
