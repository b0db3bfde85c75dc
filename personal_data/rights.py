"""A citizen's rights, served by the town hall: a copy of everything held, and erasure.

`export` gathers every collector's records about a phone; `erase` asks each collector to let
go of what the law allows (and to keep payments, receipts and requests with the phone replaced
by its keyed hash). Both record the act in the audit log, under the keyed hash only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from personal_data.collectors import Collector, Stores
from personal_data.tables import audit, ensure


def _audit(
    stores: Stores,
    act: str,
    phone: str,
    *,
    reason: str,
    operator: str,
    counts: dict[str, int],
    now: datetime,
) -> None:
    ensure(stores.engine)
    with stores.engine.begin() as conn:
        conn.execute(
            audit.insert().values(
                at=now,
                act=act,
                phone_ref=stores.phone_ref(phone),
                reason=reason[:200],
                operator=operator[:64],
                counts=counts,
            )
        )


def export(
    stores: Stores,
    collectors: Sequence[Collector],
    phone: str,
    *,
    operator: str,
    reason: str = "access request",
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Return everything held about `phone`, one section per store, and audit the act."""
    now = clock()
    sections = {c.name: c.export(phone) for c in collectors}
    counts = {name: len(records) for name, records in sections.items()}
    _audit(stores, "export", phone, reason=reason, operator=operator, counts=counts, now=now)
    return {
        "phone": phone,
        "exported_at": now.isoformat(),
        "note": "ID numbers and dates of birth are shown masked; the town hall shows them "
        "whole at the counter.",
        "records": sections,
    }


def erase(
    stores: Stores,
    collectors: Sequence[Collector],
    phone: str,
    *,
    reason: str,
    operator: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, int]:
    """Erase or anonymise every store's records about `phone`; return counts per store."""
    if not reason.strip():
        raise ValueError("an erasure needs its reason (the citizen's request, a reference)")
    ref = "ref:" + stores.phone_ref(phone)
    counts = {c.name: c.erase(phone, ref) for c in collectors}
    _audit(stores, "erase", phone, reason=reason, operator=operator, counts=counts, now=clock())
    return counts
