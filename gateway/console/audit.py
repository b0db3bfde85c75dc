"""The staff audit log: who did what, when, from where; insert and read, nothing else.

There is deliberately no update or delete method here, and the table's triggers refuse both
in the database (gateway/console/tables.py): a staff action, once logged, stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gateway.console.tables import ensure, staff_audit

MAX_DETAIL: Final = 1000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One logged staff action."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: str
    client_ip: str


class AuditLog:
    """Append staff actions to SQL and read them back, newest first."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            ensure(self._engine)
            self._ready = True

    def append(
        self, actor: str, action: str, *, target: str = "", detail: str = "", client_ip: str = ""
    ) -> None:
        """Record one staff action now."""
        self._ensure()
        with self._engine.begin() as conn:
            conn.execute(
                staff_audit.insert().values(
                    at=datetime.now(UTC),
                    actor=actor[:64],
                    action=action[:40],
                    target=target[:120],
                    detail=detail[:MAX_DETAIL],
                    client_ip=client_ip[:64],
                )
            )

    def recent(
        self, *, limit: int = 100, actor: str | None = None, target: str | None = None
    ) -> list[AuditEntry]:
        """Return the newest entries, optionally of one actor or about one target."""
        self._ensure()
        query = sa.select(staff_audit).order_by(staff_audit.c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(staff_audit.c.actor == actor)
        if target is not None:
            query = query.where(staff_audit.c.target == target)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [AuditEntry(**dict(row._mapping)) for row in rows]
