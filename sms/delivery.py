"""Hand a queued message to the provider, exactly once at most, and apply delivery reports.

State machine: queued -> sending -> sent | failed (| queued again for a transient error or
an account hold), then sent -> delivered | undelivered from delivery reports. Every move is a
compare-and-set on the record (sms.store), so final states never regress and two jobs can
never both send one message.

A worker killed mid-call never sends twice: the record says `sending` before the provider is
called. A job that finds `sending` does not send: if the lease is still running another
worker owns the message; if it has expired the worker died between the call and the write,
the outcome is unknown, and the message ends `failed` (reason `interrupted`). The sweeper
(sms.sweeper) finds such messages once their lease is over, and `queued` ones whose job was
lost, and runs the deliver job for them again; the state decides, so it never sends twice.

A read timeout is different: the worker is alive and knows the call may or may not have
reached AT. Issue 4 classes timeouts as transient, and we follow it: the message goes back to
`queued` and is retried with growing delays (SMS_RETRY_DELAYS), bounded. The trade-off is
deliberate: AT may have accepted the first request, so a rare duplicate receipt or alert is
possible, and that is preferred to a receipt or an alert silently lost. Failures where
nothing reached the provider (connection refused or timed out, HTTP 5xx, AT statusCode
500/501) are retried the same way; answers that may mean "accepted" in a shape we cannot read
(2xx without JSON) are still final, since they are not timeouts and would repeat.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import redis

from runtime.logs import person
from sms.message_log import MessageLog
from sms.providers import africastalking
from sms.providers.base import Outcome, ProviderError, RecipientResult, ReportState, SmsProvider
from sms.providers.reports import report_state
from sms.queues import DeliveryQueue
from sms.store import FINAL, Message, MessageStore, Status, sms_key, text

log = logging.getLogger(__name__)

_PENDING_TTL: Final = 24 * 3600

# Reports parked before our own write name their provider, but AT's (written before others
# existed): `<provider>/<status>|<reason>` or `<status>|<reason>`.
_AT: Final = africastalking.NAME


def hold_key() -> str:
    """Return the key set while the provider account cannot send (value: why)."""
    return sms_key("hold")


def holds_metric_key() -> str:
    """Return the counter of holds."""
    return sms_key("metrics", "holds")


def _pending_reports_key(provider_id: str) -> str:
    # Reports that came before our send returned; MessageStore.accept takes them (one slot).
    return sms_key("dlr", "pending", provider_id)


def _parked(provider: str, status: str, reason: str) -> str:
    return f"{status}|{reason}" if provider == _AT else f"{provider}/{status}|{reason}"


def _unparked(raw: str) -> tuple[str, str, str]:
    """Return (provider, status, reason) of a parked report."""
    head, _, reason = raw.partition("|")
    provider, _, status = head.rpartition("/")  # AT's statuses hold no `/`
    return provider or _AT, status, reason


class DeliverOutcome(StrEnum):
    """What one run of the deliver job did (logged, and read by tests)."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    HELD = "held"
    ALREADY_DONE = "already_done"
    IN_FLIGHT = "in_flight"
    INTERRUPTED = "interrupted"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How long to wait between retries, how long to pause on a hold, the sending lease."""

    retry_delays: Sequence[float] = (10, 60, 300, 900)
    hold_seconds: int = 900
    lease_seconds: float = 60.0

    @classmethod
    def from_text(
        cls,
        delays: str,
        hold_seconds: int,
        timeout_seconds: float,
        lease_seconds: float = 60.0,
    ) -> DeliveryPolicy:
        """Build from settings: comma-separated delays; the lease outlives one provider call."""
        parsed = tuple(float(part) for part in delays.split(",") if part.strip())
        return cls(parsed, hold_seconds, max(lease_seconds, 3 * timeout_seconds))


@dataclass
class _Batch:
    """Messages of one deliver_many call, shared by its threads under `lock`."""

    pending: deque[tuple[str, Message | None]]
    hold: int
    ends: float
    outcomes: Counter[DeliverOutcome] = field(default_factory=Counter)
    results: dict[str, DeliverOutcome] = field(default_factory=dict)
    stopped: bool = False
    error: BaseException | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Dispatcher:
    """The deliver job's logic, and delivery reports."""

    def __init__(
        self,
        *,
        store: MessageStore,
        provider: SmsProvider,
        queue: DeliveryQueue,
        client: redis.Redis,
        sender_id: str | None = None,
        policy: DeliveryPolicy | None = None,
        log: MessageLog | None = None,
    ) -> None:
        self._log = log
        # Ids whose provider call started, until their batch wrote the log: if Redis is
        # gone by then, these stay `sending` in the log (at most once), the rest go back.
        self._handed: set[str] = set()
        self._handed_lock = threading.Lock()
        self._store = store
        self._provider = provider
        self._queue = queue
        self._redis = client
        self._sender_id = sender_id or None
        self._policy = policy or DeliveryPolicy()

    def deliver(self, message_id: str) -> DeliverOutcome:
        """Send a queued message once; decide retry, pause or final failure."""
        self._claim_in_log([message_id])
        results: dict[str, DeliverOutcome] = {}
        try:
            outcome = self._deliver(message_id, self._store.get(message_id), self.hold_remaining())
            results[message_id] = outcome
            return outcome
        finally:
            self._mirror([message_id], results)

    def _claim_in_log(self, message_ids: Sequence[str]) -> None:
        # Before any provider call: if Redis then comes back empty, the log knows these may
        # have been sent and recovery fails them rather than sending them twice.
        if self._log is not None:
            self._log.claim(message_ids)

    def _mirror(
        self, message_ids: Sequence[str], results: Mapping[str, DeliverOutcome] | None = None
    ) -> None:
        """Write the Redis state of `message_ids` to the message log (one statement).

        For the ones Redis cannot give (it went away, or came back empty, mid-batch), write
        what this process knows: sent ones `sent`, ones never handed to the provider back to
        `queued` (recovery sends them), ones handed without a known outcome stay `sending`
        (recovery fails them: at most once).
        """
        if self._log is None or not message_ids:
            return
        with self._handed_lock:
            handed = self._handed & set(message_ids)
            self._handed -= handed
        try:
            found = self._store.get_many(list(message_ids))
        except redis.RedisError:
            found = [None] * len(message_ids)
        records = [m for m in found if m is not None]
        missing = [i for i, m in zip(message_ids, found, strict=True) if m is None]
        known = results or {}
        try:
            self._log.mirror(records)
            self._log.mark_sent([i for i in missing if known.get(i) == DeliverOutcome.SENT])
            self._log.release([i for i in missing if i not in handed])
        except Exception:
            # The log catches up at the next move of these messages; recovery never resends
            # one the log saw `sending`. The job's own outcome stands.
            log.exception("sms: could not mirror %d message(s) to the log", len(message_ids))

    def deliver_many(
        self, message_ids: Sequence[str], *, budget_seconds: float = 30.0, threads: int = 1
    ) -> tuple[Counter[DeliverOutcome], list[str]]:
        """Deliver each message as `deliver` would; return the outcomes and the ids left.

        The records and the hold are read once for the batch (each claim checks the state
        again). `threads` overlap the waits on the provider and Redis; each message is still
        claimed before and settled after its own call. After `budget_seconds` the rest is
        returned untouched, so a slow provider never holds one job past its rq timeout.
        """
        self._claim_in_log(message_ids)
        batch = _Batch(
            deque(zip(message_ids, self._store.get_many(list(message_ids)), strict=True)),
            hold=self.hold_remaining(),
            ends=time.monotonic() + budget_seconds,
        )
        try:
            self._run_batch(batch, threads)
        finally:
            self._mirror(message_ids, batch.results)
        if batch.error is not None:
            raise batch.error
        return batch.outcomes, [message_id for message_id, _ in batch.pending]

    def _run_batch(self, batch: _Batch, threads: int) -> None:
        if threads <= 1:
            self._work(batch)
        else:
            workers = [
                threading.Thread(target=self._work, args=(batch,), daemon=True)
                for _ in range(threads)
            ]
            for worker in workers:
                worker.start()
            try:
                for worker in workers:
                    worker.join()
            finally:
                # rq's job timeout lands here (SIGALRM, main thread): take no new message;
                # the calls in flight end within the provider's own timeout.
                batch.stopped = True

    def _work(self, batch: _Batch) -> None:
        while True:
            with batch.lock:
                late = batch.outcomes and time.monotonic() > batch.ends  # one at least
                if batch.stopped or not batch.pending or late:
                    return
                message_id, message = batch.pending.popleft()
                hold = batch.hold
            try:
                outcome = self._deliver(message_id, message, hold)
            except BaseException as exc:  # the job fails as a sequential run would
                with batch.lock:
                    batch.stopped = True
                    batch.error = batch.error or exc
                return
            with batch.lock:
                batch.outcomes[outcome] += 1
                batch.results[message_id] = outcome
                if outcome == DeliverOutcome.HELD and not batch.hold:
                    batch.hold = self.hold_remaining()  # on hold: the rest waits too

    def _deliver(self, message_id: str, message: Message | None, hold: int) -> DeliverOutcome:
        if message is None:
            log.error("sms %s: no such message (expired?)", message_id)
            return DeliverOutcome.MISSING
        if message.status in FINAL or message.status == Status.SENT:
            return DeliverOutcome.ALREADY_DONE
        if message.status == Status.SENDING:
            return self._found_sending(message)
        if hold > 0:
            self._queue.redeliver(message_id, delay_seconds=hold)
            return DeliverOutcome.HELD
        now = time.time()
        claimed = self._store.transition(
            message_id,
            [Status.QUEUED],
            Status.SENDING,
            due_at=now + self._policy.lease_seconds,
            sending_since=now,
            attempts=message.attempts + 1,
        )
        if not claimed.moved:
            return DeliverOutcome.ALREADY_DONE
        return self._send(message, attempt=message.attempts + 1)

    def _found_sending(self, message: Message) -> DeliverOutcome:
        if time.time() - message.sending_since < self._policy.lease_seconds:
            return DeliverOutcome.IN_FLIGHT
        moved = self._store.transition(
            message.id, [Status.SENDING], Status.FAILED, reason="interrupted: outcome unknown"
        )
        if moved.moved:
            log.warning("sms %s: worker died while sending; not resent (at-most-once)", message.id)
        return DeliverOutcome.INTERRUPTED

    def _send(self, message: Message, *, attempt: int) -> DeliverOutcome:
        with self._handed_lock:
            self._handed.add(message.id)
        try:
            result = self._provider.send([message.phone], message.text, self._sender_id)
        except ProviderError as exc:
            return self._after_failure(message, exc.outcome, exc.detail, attempt)
        answer = result.for_number(message.phone)
        if answer is None:
            return self._after_failure(
                message,
                Outcome.PERMANENT,
                f"no status for the recipient: {result.summary}",
                attempt,
            )
        if answer.outcome != Outcome.ACCEPTED:
            detail = f"{answer.status_code} {answer.status}"
            return self._after_failure(message, answer.outcome, detail, attempt)
        return self._accepted(message, answer)

    def _accepted(self, message: Message, answer: RecipientResult) -> DeliverOutcome:
        # One round trip: sent, the provider id linked, the reports that beat us taken.
        reports_key = _pending_reports_key(answer.message_id)
        _, reports = self._store.accept(
            message.id, answer.message_id, answer.status, reports_key, answer.cost
        )
        log.info(
            "sms %s: sent via %s to %s", message.id, self._provider.name, person(message.phone)
        )
        for raw in reports:
            self._apply(message.id, *_unparked(raw))
        return DeliverOutcome.SENT

    def _after_failure(
        self, message: Message, outcome: Outcome, detail: str, attempt: int
    ) -> DeliverOutcome:
        if outcome == Outcome.HOLD:
            self._hold(detail)
            # A hold says nothing about this message: it goes back to the queue uncounted.
            self._store.transition(
                message.id,
                [Status.SENDING],
                Status.QUEUED,
                due_at=time.time() + self._policy.hold_seconds,
                attempts=attempt - 1,
                reason=detail,
            )
            self._queue.redeliver(message.id, delay_seconds=self._policy.hold_seconds)
            return DeliverOutcome.HELD
        delays = self._policy.retry_delays
        if outcome == Outcome.TRANSIENT and attempt <= len(delays):
            delay = delays[attempt - 1]
            self._store.transition(
                message.id,
                [Status.SENDING],
                Status.QUEUED,
                due_at=time.time() + delay,
                reason=detail,
            )
            self._queue.redeliver(message.id, delay_seconds=delay)
            log.info("sms %s: attempt %d failed (%s), retrying", message.id, attempt, detail)
            return DeliverOutcome.RETRY
        self._store.transition(message.id, [Status.SENDING], Status.FAILED, reason=detail)
        log.warning("sms %s: failed after %d attempt(s): %s", message.id, attempt, detail)
        return DeliverOutcome.FAILED

    def _hold(self, reason: str) -> None:
        pipe = self._redis.pipeline()
        pipe.set(hold_key(), reason, ex=self._policy.hold_seconds)
        pipe.incr(holds_metric_key())
        pipe.execute()
        log.error(
            "sms: provider account on hold (%s); sending paused for %d s, messages stay queued",
            reason,
            self._policy.hold_seconds,
        )

    def hold_remaining(self) -> int:
        """Return the seconds left on an account hold (0 when sending is allowed)."""
        ttl = int(self._redis.ttl(hold_key()))
        return max(ttl, 0)

    def apply_report(
        self, provider_id: str, status: str, failure_reason: str = "", provider: str = _AT
    ) -> str:
        """Apply `provider`'s delivery report; unknown ids wait (it may beat our own write)."""
        message_id = self._store.by_provider_id(provider_id)
        if message_id is None:
            key = _pending_reports_key(provider_id)
            pipe = self._redis.pipeline()
            pipe.rpush(key, _parked(provider, status, failure_reason))
            pipe.expire(key, _PENDING_TTL)
            pipe.execute()
            # The deliver job links the id then drains; we park then look again: one of the
            # two always sees the other, and applying twice is harmless (compare-and-set).
            if self._store.by_provider_id(provider_id) is None:
                return "pending"
            self._apply_pending(provider_id)
            self._mirror([self._store.by_provider_id(provider_id) or ""])
            return "applied"
        applied = self._apply(message_id, provider, status, failure_reason)
        self._mirror([message_id])
        return applied

    def _apply_pending(self, provider_id: str) -> None:
        key = _pending_reports_key(provider_id)
        pipe = self._redis.pipeline()
        pipe.lrange(key, 0, -1)
        pipe.delete(key)
        raw_reports, _ = pipe.execute()
        message_id = self._store.by_provider_id(provider_id)
        if message_id is None:
            return
        for raw in raw_reports:
            self._apply(message_id, *_unparked(text(raw)))

    def _apply(self, message_id: str, provider: str, status: str, failure_reason: str) -> str:
        state = report_state(provider, status)
        if state == ReportState.DELIVERED:
            to = Status.DELIVERED
        elif state == ReportState.UNDELIVERED:
            to = Status.UNDELIVERED
        elif state == ReportState.INTERMEDIATE:
            # Buffered/Submitted only refine `sent`; they never undo a final state.
            moved = self._store.transition(
                message_id, [Status.SENT], Status.SENT, provider_status=status
            )
            return "applied" if moved.moved else "ignored"
        else:
            log.warning(
                "sms %s: unknown %s delivery status %r ignored", message_id, provider, status
            )
            return "ignored"
        moved = self._store.transition(
            message_id, [Status.SENT], to, provider_status=status, reason=failure_reason
        )
        return "applied" if moved.moved else "ignored"
