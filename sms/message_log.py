"""The durable message log (SQL): what was accepted, and what became of it.

In the GOV.UK Notify style: one row per message with who (masked number and keyed ref),
the template, its parameters with secret ones masked, the status and its history, the
provider's id and status, the cost. The row is written before the caller is answered (a
202 means the row exists); status changes are mirrored from Redis in batches, one statement
per drain job, so the worker's send rate barely moves (bench/README.md, SMS pipeline).

Redis stays the hot state: scripts move a record, the log follows. The log is what brings
messages back after Redis came back empty (sms.recovery). Neither the rendered text nor an
OTP is ever written here; the number only sealed (runtime.sealing, PERSONAL_DATA_KEYS), while
the message is queued.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError

from sms.store import FINAL, Message, Status
from sms.tables import FINAL_STAGE, STAGES, create_tables, messages, utcnow

PAGE: Final = 500

# A late batch must not undo a later state: below `sent` anything goes (queued <-> sending
# on retries); from `sent` only forward. The history grows only when the status changes.
_MIRROR: Final = text(
    """
UPDATE sms_messages SET
  history = CASE WHEN status <> :status THEN history || :entry ELSE history END,
  status = :status, stage = :stage, reason = :reason, attempts = :attempts,
  provider_id = :provider_id, provider_status = :provider_status, cost = :cost,
  sealed_phone = CASE WHEN :stage >= 2 THEN NULL ELSE sealed_phone END,
  updated_at = :now
WHERE id = :id AND (stage < 2 OR stage <= :stage)
"""
)


def stage_of(status: str) -> int:
    """Return the order of a status (final ones last)."""
    return STAGES.get(status, FINAL_STAGE)


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    """One row of the log."""

    id: str
    idem: str
    template: str
    lang: str
    params: Mapping[str, str]
    status: Status
    reason: str
    essential: bool
    sealed_phone: str | None
    phone_masked: str
    phone_ref: str
    provider_id: str
    cost: str
    history: str
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> LoggedMessage:
        """Build from a selected row."""
        return cls(
            id=row.id,
            idem=row.idem,
            template=row.template,
            lang=row.lang,
            params=json.loads(row.params or "{}"),
            status=Status(row.status),
            reason=row.reason,
            essential=bool(row.essential),
            sealed_phone=row.sealed_phone,
            phone_masked=row.phone_masked,
            phone_ref=row.phone_ref,
            provider_id=row.provider_id,
            cost=row.cost,
            history=row.history,
            updated_at=row.updated_at,
        )


class MessageLog:
    """Rows of sms_messages: written before the answer, mirrored from Redis in batches."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ready = False
        self._lock = threading.Lock()

    def migrate(self) -> None:
        """Create the SMS tables if missing (idempotent; once per process)."""
        with self._lock:
            if not self._ready:
                create_tables(self._engine)
                self._ready = True

    def record(
        self,
        message_id: str,
        idem: str,
        fields: Mapping[str, str | int],
        sealed_phone: str | None,
    ) -> LoggedMessage | None:
        """Insert a new message; return the one already logged under `idem` instead."""
        self.migrate()
        now = utcnow()
        status = str(fields["status"])
        row = {
            "id": message_id,
            "idem": idem,
            "phone_masked": str(fields["phone_masked"]),
            "phone_ref": str(fields["phone_ref"]),
            "template": str(fields["template"]),
            "lang": str(fields["lang"]),
            "params": str(fields["params"]),
            "essential": int(fields["essential"]),
            "status": status,
            "stage": stage_of(status),
            "reason": str(fields.get("reason", "")),
            "segments": int(fields.get("segments", 0)),
            "encoding": str(fields.get("encoding", "")),
            "attempts": 0,
            "provider_id": "",
            "provider_status": "",
            "cost": "",
            "history": f"{status}@{time.time():.3f};",
            "sealed_phone": sealed_phone,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(messages.insert(), row)
        except IntegrityError:
            found = self.find(idem)
            if found is None:  # not a duplicate key: another constraint
                raise
            return found
        return None

    def find(self, idem: str) -> LoggedMessage | None:
        """Return the message logged under an idempotency digest."""
        self.migrate()
        with self._engine.connect() as conn:
            row = conn.execute(select(messages).where(messages.c.idem == idem)).first()
        return None if row is None else LoggedMessage.from_row(row)

    def get(self, message_id: str) -> LoggedMessage | None:
        """Return one message of the log."""
        self.migrate()
        with self._engine.connect() as conn:
            row = conn.execute(select(messages).where(messages.c.id == message_id)).first()
        return None if row is None else LoggedMessage.from_row(row)

    def for_phone_ref(self, phone_ref: str, limit: int = 50) -> list[LoggedMessage]:
        """Return the latest messages to one number (its keyed ref), newest first."""
        self.migrate()
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(messages)
                .where(messages.c.phone_ref == phone_ref)
                .order_by(messages.c.created_at.desc())
                .limit(limit)
            ).all()
        return [LoggedMessage.from_row(row) for row in rows]

    def forget(self, message_id: str) -> None:
        """Delete a row whose message was never queued (Redis refused it: nothing accepted)."""
        with self._engine.begin() as conn:
            conn.execute(messages.delete().where(messages.c.id == message_id))

    def claim(self, message_ids: Sequence[str]) -> None:
        """Mark queued messages `sending` before any provider call (one statement)."""
        if not message_ids:
            return
        self.migrate()
        now = utcnow()
        entry = f"sending@{time.time():.3f};"
        with self._engine.begin() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id.in_(list(message_ids)), messages.c.status == "queued")
                .values(
                    status="sending",
                    stage=STAGES["sending"],
                    history=messages.c.history + entry,
                    updated_at=now,
                )
            )

    def release(self, message_ids: Sequence[str]) -> None:
        """Put back to `queued` messages claimed but never handed to the provider."""
        self._move(message_ids, "sending", "queued")

    def mark_sent(self, message_ids: Sequence[str]) -> None:
        """Record `sent` for messages the provider accepted (when Redis could not say)."""
        self._move(message_ids, "sending", "sent")

    def _move(self, message_ids: Sequence[str], origin: str, to: str) -> None:
        if not message_ids:
            return
        self.migrate()
        with self._engine.begin() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id.in_(list(message_ids)), messages.c.status == origin)
                .values(
                    status=to,
                    stage=stage_of(to),
                    sealed_phone=None
                    if stage_of(to) >= STAGES["sent"]
                    else messages.c.sealed_phone,
                    history=messages.c.history + f"{to}@{time.time():.3f};",
                    updated_at=utcnow(),
                )
            )

    def mirror(self, records: Sequence[Message]) -> None:
        """Write each record's Redis state to its row (one executemany)."""
        if not records:
            return
        self.migrate()
        now = utcnow()
        at = f"@{time.time():.3f};"
        rows = [
            {
                "id": m.id,
                "status": m.status.value,
                "stage": stage_of(m.status.value),
                "entry": m.status.value + at,
                "reason": m.reason[:200],
                "attempts": m.attempts,
                "provider_id": m.provider_id,
                "provider_status": m.provider_status,
                "cost": m.cost,
                "now": now,
            }
            for m in records
        ]
        with self._engine.begin() as conn:
            conn.execute(_MIRROR, rows)

    def settle(self, message_id: str, status: Status, reason: str) -> bool:
        """Move a message still queued or sending to a final status; True when it moved."""
        assert status in FINAL
        self.migrate()
        with self._engine.begin() as conn:
            result = conn.execute(
                messages.update()
                .where(messages.c.id == message_id, messages.c.stage < STAGES["sent"])
                .values(
                    status=status.value,
                    stage=FINAL_STAGE,
                    reason=reason[:200],
                    sealed_phone=None,
                    history=messages.c.history + f"{status.value}@{time.time():.3f};",
                    updated_at=utcnow(),
                )
            )
        return bool(result.rowcount)

    def unfinished(self, before: datetime, limit: int = 20 * PAGE) -> Iterator[LoggedMessage]:
        """Yield messages still queued or sending, last changed before `before`, page by page."""
        self.migrate()
        after_id = ""
        seen = 0
        while seen < limit:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    select(messages)
                    .where(
                        messages.c.stage < STAGES["sent"],
                        messages.c.updated_at < before,
                        messages.c.id > after_id,
                    )
                    .order_by(messages.c.id)
                    .limit(PAGE)
                ).all()
            if not rows:
                return
            for row in rows:
                yield LoggedMessage.from_row(row)
            seen += len(rows)
            after_id = rows[-1].id

    def status_counts(self) -> dict[str, int]:
        """Return how many logged messages stand in each status."""
        self.migrate()
        with self._engine.connect() as conn:
            rows = conn.execute(
                text("SELECT status, COUNT(*) AS n FROM sms_messages GROUP BY status")
            ).all()
        return {row.status: int(row.n) for row in rows}

    def template_status_counts(self) -> dict[str, dict[str, int]]:
        """Return how many logged messages of each template stand in each status."""
        self.migrate()
        with self._engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT template, status, COUNT(*) AS n FROM sms_messages "
                    "GROUP BY template, status"
                )
            ).all()
        counts: dict[str, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(row.template, {})[row.status] = int(row.n)
        return counts

    def recent_in(self, status: Status, limit: int = 50) -> list[LoggedMessage]:
        """Return the newest messages standing in `status` (the refused ones, for a person)."""
        self.migrate()
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(messages)
                .where(messages.c.status == status.value)
                .order_by(messages.c.updated_at.desc())
                .limit(limit)
            ).all()
        return [LoggedMessage.from_row(row) for row in rows]
