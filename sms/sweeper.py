"""Find messages no job will move any more and run the deliver job for them again.

Two ways a message gets stuck: the process died between storing it `queued` and enqueuing
its job (or a delayed retry's job was lost), or a worker died mid-call and left it `sending`.
`MessageStore` keeps every `queued`/`sending` id in a sorted set scored by when it becomes
overdue (now, the retry time, the end of the sending lease). A periodic job re-enqueues the
overdue ones with job id = message id: idempotent, since a waiting job with that id refuses a
second one and the deliver job itself decides from the message's state (a `sending` message
past its lease ends `interrupted`, never sent twice).

A third way: Redis came back empty and the records are gone. Each sweep first runs the
recovery (sms.recovery), which brings them back from the SQL message log.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from sms.queues import DeliveryQueue
from sms.recovery import Recovery
from sms.store import MessageStore

log = logging.getLogger(__name__)

BATCH: Final = 500


class Sweeper:
    """Re-enqueue overdue messages."""

    def __init__(
        self,
        store: MessageStore,
        queue: DeliveryQueue,
        *,
        grace_seconds: float,
        recovery: Recovery | None = None,
    ) -> None:
        self._recovery = recovery
        self._store = store
        self._queue = queue
        self._grace = grace_seconds

    def sweep(self, now: float | None = None) -> int:
        """Enqueue the deliver job of every message overdue by the grace; return how many."""
        now = time.time() if now is None else now
        if self._recovery is not None:
            try:
                self._recovery.run()
            except Exception:
                # The database down must not stop the Redis half of the sweep.
                log.exception("sms sweeper: recovery from the message log failed")
        self._queue.kick()  # new messages whose drain job was never enqueued
        overdue = self._store.overdue(now - self._grace, BATCH)
        if not overdue:
            return 0
        # Look again only after another grace period, whatever the job finds.
        self._store.postpone(overdue, now + self._grace)
        for message_id in overdue:
            self._queue.redeliver(message_id, job_id=f"sms-deliver-{message_id}")
        log.info("sms sweeper: %d overdue message(s) re-enqueued", len(overdue))
        return len(overdue)
