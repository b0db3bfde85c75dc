"""The one way the rest of the code sends an SMS: log it in SQL, persist a record, enqueue its id.

Order matters: the SQL row (sms.message_log) is written first and its unique idempotency
digest is the durable "once" (Redis' key is the fast one, and is gone after Redis came back
empty); then the Redis record the deliver job moves; then the job. A caller is answered only
once the row exists, so whatever it was told was accepted survives Redis (sms.recovery).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from runtime.logs import current_phone_ref
from runtime.masking import mask_phone
from sms.message_log import MessageLog
from sms.phones import PhonePolicy
from sms.preferences import Preferences
from sms.queues import DeliveryQueue
from sms.sealing import PhoneSeal
from sms.store import MessageStore, Status, idem_digest
from sms.templates import TemplateBook
from text.encoding import cost

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What `send` did: the message's id and status, and whether this call created it."""

    message_id: str
    status: Status
    created: bool
    reason: str = ""  # why a message was refused: opted_out, budget_exceeded, ...

    @property
    def accepted(self) -> bool:
        """Return True when the message is (or was) on its way to the provider."""
        return self.status != Status.REFUSED


class SmsService:
    """Render a template, apply the sending rules, persist the message and enqueue it."""

    def __init__(
        self,
        *,
        book: TemplateBook,
        store: MessageStore,
        preferences: Preferences,
        phones: PhonePolicy,
        queue: DeliveryQueue,
        daily_budget: int,
        log: MessageLog | None = None,
        seal: PhoneSeal | None = None,
    ) -> None:
        self.book = book
        self._log = log
        self._seal = seal or PhoneSeal(b"")
        self._store = store
        self._prefs = preferences
        self._phones = phones
        self._queue = queue
        self._daily_budget = daily_budget

    def send(
        self,
        phone: str,
        template: str,
        params: Mapping[str, str | int],
        *,
        idempotency_key: str,
        lang: str | None = None,
    ) -> SendResult:
        """Queue `template` for `phone` once per idempotency key; refused messages are kept too.

        The template's class (sms_templates.yaml) decides which rules apply: a notice obeys
        STOP and SMS_DAILY_BUDGET, an essential message neither.
        """
        existing = self._store.existing(idempotency_key)
        if existing is not None:
            return self._result(existing, created=False)
        # A key Redis forgot (it came back empty) is found by the log's insert below: one
        # statement per new message rather than a look-up first.
        digest = idem_digest(idempotency_key)
        language = self.book.language(lang or self._prefs.language(phone))
        spec = self.book.template(template)
        text = self.book.message(template, language, params)  # raises on a bad key or params
        reason = self._refusal(phone, essential=spec.essential)
        measured = cost(text)
        record: dict[str, str | int] = {
            "phone_masked": mask_phone(phone),
            "phone_ref": current_phone_ref(phone),
            "template": template,
            "lang": language,
            "params": json.dumps(self.book.loggable(template, params), ensure_ascii=False),
            "status": (Status.REFUSED if reason else Status.QUEUED).value,
            "essential": int(spec.essential),
            "reason": reason or "",
            "segments": measured.sms_segments,
            "encoding": measured.encoding,
            "attempts": 0,
        }
        message_id = uuid.uuid4().hex
        if self._log is not None:
            sealed = None if reason else self._seal.seal(phone)
            logged = self._log.record(message_id, digest, record, sealed)
            if logged is not None:  # an earlier or concurrent call with the same key
                return SendResult(logged.id, logged.status, False, logged.reason)
        if not reason:
            # Only the deliver job needs these; the store deletes them once it is done.
            record.update(phone=phone, text=text)
        try:
            found, created = self._store.create(idempotency_key, record, message_id=message_id)
        except Exception:
            if self._log is not None:  # not queued, so not accepted: the caller may retry
                self._log.forget(message_id)
            raise
        if not created:  # a message older than the log holds the key in Redis
            if self._log is not None:
                self._log.forget(message_id)
            return self._result(found, created=False)
        if reason:
            log.info(
                "sms %s: %s to %s refused: %s", message_id, template, mask_phone(phone), reason
            )
            return SendResult(message_id, Status.REFUSED, True, reason)
        # The record exists before the job does (a worker never looks up a missing id).
        self._queue.deliver(message_id)
        return SendResult(message_id, Status.QUEUED, True)

    def _refusal(self, phone: str, *, essential: bool) -> str | None:
        refusal = self._phones.refusal(phone)
        if refusal:
            return refusal
        if essential:
            return None  # abuse limits live where the abuse starts (OTP, replies)
        if self._prefs.opted_out(phone):
            return "opted_out"
        if not self._prefs.spend(phone, self._daily_budget):
            return "budget_exceeded"
        return None

    def _result(self, message_id: str, *, created: bool) -> SendResult:
        message = self._store.get(message_id)
        if message is None:  # expired between the two reads: report it as refused
            return SendResult(message_id, Status.REFUSED, created, "expired")
        return SendResult(message_id, message.status, created, message.reason)
