"""Bring back what Redis forgot: messages the log says were accepted and not finished.

After Redis came back empty (restart without persistence, failover to an empty replica, a
flush), the message log (SQL) still has every message a caller was told was accepted. Each
sweep (sms.sweeper) asks the log for the ones still `queued` or `sending` and looks for their
Redis records; for each one missing:

- `queued`: the Redis record is created again under the same id and idempotency digest (so
  a caller retrying with its key finds it), the text re-rendered from the template and the
  logged parameters, the number unsealed, and the message queued: sent once.
- `sending`: a worker may have handed it to the provider before Redis lost it; sending it
  again could deliver it twice, so it ends `failed` (at most once, as sms.delivery does).
- a template with a secret parameter (the OTP code): the log never kept the secret, and the
  code's hash lived in Redis too, so even a re-sent code could not be verified. It ends
  `failed` with reason `expired: secret lost`; the citizen asks for a new code (the resend
  throttle was in Redis as well, so nothing makes them wait).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import redis

from sms.message_log import LoggedMessage, MessageLog
from sms.queues import DeliveryQueue
from sms.sealing import PhoneSeal
from sms.store import MessageStore, Status
from sms.tables import utcnow
from sms.templates import TemplateBook, TemplateError

log = logging.getLogger(__name__)

CHUNK: Final = 500
OTP_LOST: Final = "expired: secret lost with Redis, ask again"
INTERRUPTED: Final = "interrupted: Redis lost it while sending; not resent (at most once)"
UNSEALABLE: Final = "lost: number cannot be unsealed (OTP_KEY changed?)"


@dataclass
class RecoveryReport:
    """What one pass found."""

    checked: int = 0
    requeued: int = 0
    failed: int = 0


class Recovery:
    """Re-create from the log the messages Redis no longer has."""

    def __init__(
        self,
        *,
        log: MessageLog,
        store: MessageStore,
        book: TemplateBook,
        queue: DeliveryQueue,
        seal: PhoneSeal,
        client: redis.Redis,
        grace_seconds: float,
    ) -> None:
        self._log = log
        self._store = store
        self._book = book
        self._queue = queue
        self._seal = seal
        self._redis = client
        self._grace = grace_seconds

    def run(self) -> RecoveryReport:
        """Check every unfinished message older than the grace; bring back the missing."""
        report = RecoveryReport()
        before = utcnow() - timedelta(seconds=self._grace)
        chunk: list[LoggedMessage] = []
        for row in self._log.unfinished(before):
            chunk.append(row)
            if len(chunk) == CHUNK:
                self._check(chunk, report)
                chunk = []
        self._check(chunk, report)
        if report.requeued or report.failed:
            log.warning(
                "sms recovery: %d message(s) missing from Redis: %d queued again, %d failed",
                report.requeued + report.failed,
                report.requeued,
                report.failed,
            )
        return report

    def _check(self, rows: list[LoggedMessage], report: RecoveryReport) -> None:
        if not rows:
            return
        report.checked += len(rows)
        pipe = self._redis.pipeline(transaction=False)
        for row in rows:
            pipe.exists(self._store.key(row.id))
        for row, exists in zip(rows, pipe.execute(), strict=True):
            if exists:
                continue
            if self._bring_back(row):
                report.requeued += 1
            else:
                report.failed += 1

    def _bring_back(self, row: LoggedMessage) -> bool:
        failure = self._why_not(row)
        if failure:
            self._log.settle(row.id, Status.FAILED, failure)
            return False
        phone = self._seal.unseal(row.sealed_phone or "")
        assert phone is not None  # _why_not checked it
        text = self._book.message(row.template, row.lang, row.params)
        record: dict[str, str | int] = {
            "phone_masked": row.phone_masked,
            "phone_ref": row.phone_ref,
            "template": row.template,
            "lang": row.lang,
            "params": json.dumps(dict(row.params), ensure_ascii=False),
            "status": Status.QUEUED.value,
            "essential": int(row.essential),
            "reason": "",
            "attempts": 0,
            "phone": phone,
            "text": text,
        }
        _, created = self._store.create("", record, message_id=row.id, digest=row.idem)
        if created:
            self._queue.deliver(row.id)
        return True

    def _why_not(self, row: LoggedMessage) -> str:
        if row.status is Status.SENDING:
            return INTERRUPTED
        try:
            template = self._book.template(row.template)
        except TemplateError:
            return f"lost: template {row.template!r} no longer exists"
        params = [self._book.params.get(name) for name in template.params]
        if any(param is not None and param.secret for param in params):
            return OTP_LOST
        if not row.sealed_phone or self._seal.unseal(row.sealed_phone) is None:
            return UNSEALABLE
        return ""
