"""The payment flow: intent -> push -> callback or status query -> record -> receipt -> SMS.

Every step is idempotent and guarded by the intent's state in SQL, so jobs may crash, be
retried or run twice, and callbacks may come twice or out of order: nothing is charged twice
and nothing paid is left unrecorded. A callback never moves an intent on its own word: the
provider's status query must agree, whichever outcome the callback claims.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from civic.ports import (
    Assessment,
    Backend,
    DocumentRequest,
    FeePayment,
    FeeStatus,
    Payable,
    PayablePayment,
    PaymentRecord,
    RecordOutcome,
    RequestStatus,
)
from payments.config import PaymentsConfig
from payments.intent_store import NewIntent, deadline_from
from payments.model import FailureReason, Intent, IntentStatus, PaymentKind
from payments.paid_for import PaidFor, describe, paid_for_intent
from payments.providers.base import (
    CallbackAuthError,
    CallbackEvent,
    CallbackParseError,
    PaymentState,
    PaysByLink,
    Provider,
    PushOutcome,
    StatusResult,
)
from payments.queues import JobScheduler
from payments.receipt_book import city_date
from payments.receipts import ReceiptCodec
from payments.store import PaymentStore
from payments.tables import utcnow
from runtime.jobs import JobFunc
from runtime.masking import mask_phone

log = logging.getLogger(__name__)

SETTLED_OK: Final = frozenset({RecordOutcome.RECORDED, RecordOutcome.ALREADY_RECORDED})
# The receipt SMS of each kind (sms_templates.yaml); failures share payment_failed_<reason>.
RECEIPT_TEMPLATES: Final = {
    PaymentKind.TAX_ASSESSMENT: "payment_receipt",
    PaymentKind.REQUEST_FEE: "request_fee_receipt",
    # "paiement reçu, 47 500 CDF, Frais scolaires T1 2026-27, réf 200001": what, not a tax.
    PaymentKind.PAYABLE: "payment_receipt",
}
FEE_SUBJECT: Final = "request:{}"  # an intent's subject id for a request's fee
PAYABLE_SUBJECT: Final = "payable:{}"  # an intent's subject id for a payable
EXPIRY_BATCH: Final = 200


class SmsSender(Protocol):
    """sms.service.SmsService as payments uses it (docs/contracts.md)."""

    def send(
        self,
        phone: str,
        template: str,
        params: Mapping[str, str | int],
        *,
        idempotency_key: str,
        lang: str | None = None,
    ) -> object:
        """Persist and queue one templated SMS; the same key sends nothing twice."""


class StartOutcome(StrEnum):
    """What confirming a payment did (the USSD action's outcomes)."""

    STARTED = "started"
    ALREADY_PENDING = "already_pending"
    ALREADY_PAID = "already_paid"
    CLOSED = "closed"  # this session's intent already failed or expired


@dataclass(frozen=True, slots=True)
class StartResult:
    """The outcome of `start` and the intent it concerns (None when paid elsewhere)."""

    outcome: StartOutcome
    intent: Intent | None


class UnknownOperatorError(ValueError):
    """The operator is not in PAYMENT_OPERATORS."""


class PushNotSentError(RuntimeError):
    """The provider could not be reached; the job raises so rq retries it."""


@dataclass
class ReconcileReport:
    """What a reconciliation pass did, by action."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str) -> None:
        """Count one `what`."""
        self.counts[what] = self.counts.get(what, 0) + 1


class PaymentService:
    """Orchestrate mobile-money payments of tax assessments."""

    def __init__(
        self,
        *,
        store: PaymentStore,
        providers: Mapping[str, Provider],
        backend: Backend,
        sms: SmsSender | None,
        jobs: JobScheduler,
        codec: ReceiptCodec,
        config: PaymentsConfig,
        push_job: JobFunc,
        callback_job: JobFunc,
    ) -> None:
        # The job functions come from payments.wiring: payments.jobs imports this module.
        missing = sorted(set(config.operators.values()) - set(providers))
        if missing:
            raise ValueError(f"no provider adapter named {', '.join(missing)}")
        self.store = store
        self._intents = store.intents
        self._polls = store.polls
        self._callbacks = store.callbacks
        self._reviews = store.reviews
        self._receipts = store.receipts
        self.providers = providers
        self.config = config
        self._backend = backend
        self._sms = sms
        self._jobs = jobs
        self._push_job = push_job
        self._callback_job = callback_job
        self._codec = codec
        self._zone = ZoneInfo(config.timezone)

    # --- start ---------------------------------------------------------------------------

    def operators(self) -> list[str]:
        """Return the operator keys citizens may choose, in configured order."""
        return list(self.config.operators)

    def pays_by_link(self, operator: str) -> bool:
        """Tell whether the operator's customers get a payment link by SMS instead of a prompt."""
        provider: object = self.providers.get(self.config.operators.get(operator, ""))
        return isinstance(provider, PaysByLink) and provider.pays_by_link

    def start(
        self, *, session_id: str, assessment: Assessment, phone: str, operator: str, lang: str
    ) -> StartResult:
        """Persist the intent for a confirmed payment, or return the one already there."""
        return self._open(
            self._new_intent(
                key=f"{session_id}:{assessment.tax_code}:{assessment.reference}",
                session_id=session_id,
                subject=(assessment.id, assessment.reference, assessment.tax_code),
                amount=(assessment.amount, assessment.currency),
                phone=phone,
                operator=operator,
                lang=lang,
                kind=PaymentKind.TAX_ASSESSMENT,
            ),
            settled=assessment.paid,
        )

    def start_fee(
        self, *, session_id: str, request: DocumentRequest, phone: str, operator: str, lang: str
    ) -> StartResult:
        """Persist the intent paying a document request's fee, or return the one there."""
        return self._open(
            self._new_intent(
                key=f"{session_id}:fee:{request.reference}",
                session_id=session_id,
                subject=(
                    FEE_SUBJECT.format(request.reference),
                    request.reference,
                    request.document_code,
                ),
                amount=(request.fee, request.currency),
                phone=phone,
                operator=operator,
                lang=lang,
                kind=PaymentKind.REQUEST_FEE,
            ),
            settled=request.fee_status is not FeeStatus.DUE,
        )

    def start_payable(
        self, *, session_id: str, payable: Payable, phone: str, operator: str, lang: str
    ) -> StartResult:
        """Persist the intent paying a payable (school fees, a licence), or return the one there."""
        return self._open(
            self._new_intent(
                key=f"{session_id}:payable:{payable.id}",
                session_id=session_id,
                subject=(PAYABLE_SUBJECT.format(payable.id), payable.reference, payable.id),
                amount=(payable.amount, payable.currency),
                phone=phone,
                operator=operator,
                lang=lang,
                kind=PaymentKind.PAYABLE,
            ),
            settled=payable.paid,
        )

    def _new_intent(
        self,
        *,
        key: str,
        session_id: str,
        subject: tuple[str, str, str],
        amount: tuple[int, str],
        phone: str,
        operator: str,
        lang: str,
        kind: PaymentKind,
    ) -> NewIntent:
        """Return a new intent; subject is (id, reference, item code), amount (value, currency)."""
        provider = self.config.operators.get(operator)
        if provider is None:
            raise UnknownOperatorError(operator)
        subject_id, reference, item_code = subject
        value, currency = amount
        return NewIntent(
            idempotency_key=key,
            session_id=session_id,
            assessment_id=subject_id,
            assessment_reference=reference,
            tax_code=item_code,
            amount=value,
            currency=currency,
            phone=phone,
            operator=operator,
            provider=provider,
            lang=lang,
            deadline_at=deadline_from(utcnow(), self.config.intent_ttl_seconds),
            kind=kind,
        )

    def _open(self, new: NewIntent, *, settled: bool) -> StartResult:
        """Create `new` unless this key, a success or an active intent already covers it."""
        existing = self._intents.by_idempotency_key(new.idempotency_key)
        if existing is not None:
            return StartResult(_outcome_of(existing), existing)
        paid = self._intents.succeeded_for_assessment(new.assessment_id)
        if settled or paid is not None:
            return StartResult(StartOutcome.ALREADY_PAID, paid)
        # One active intent per subject (a partial unique index): a twin gets the same one.
        intent, created = self._intents.create_intent(new)
        if not created:
            return StartResult(_outcome_of(intent), intent)
        log.info(
            "payment intent %s (%s) created for %s", intent.id, new.kind, mask_phone(new.phone)
        )
        return StartResult(StartOutcome.STARTED, intent)

    @staticmethod
    def push_job_id(intent_id: str) -> str:
        """Return the rq job id of an intent's first push."""
        return f"payment-push-{intent_id}"

    def schedule_push(self, intent_id: str, *, delay_seconds: float | None = None) -> None:
        """Enqueue the push job (outside USSD; the USSD action returns an Effect instead)."""
        self._jobs.enqueue(
            self._push_job,
            intent_id,
            delay_seconds=self.config.push_delay_seconds
            if delay_seconds is None
            else delay_seconds,
            job_id=self.push_job_id(intent_id),
            retries=3,
            timeout_seconds=self.config.push_job_timeout_seconds,
        )

    # --- push ----------------------------------------------------------------------------

    def push(self, intent_id: str) -> None:
        """Send the intent's push request exactly once (the push job's body)."""
        intent = self._intents.get(intent_id)
        if intent is None:
            log.warning("push job for unknown intent %s", intent_id)
            return
        if intent.status is IntentStatus.PUSHING:
            if utcnow() - intent.updated_at >= timedelta(seconds=self.config.stale_push_seconds):
                self._recover_pushing(intent)
            # Else another job is pushing right now: never push in parallel.
            return
        if intent.status is not IntentStatus.PENDING or not self._intents.claim_push(intent_id):
            return  # pushed, final, or another job won the claim
        claimed = self._intents.get(intent_id)
        assert claimed is not None
        result = self.providers[claimed.provider].push(claimed)
        if result.outcome is PushOutcome.ACCEPTED and result.provider_reference:
            self._intents.mark_pushed(intent_id, result.provider_reference)
            log.info("payment intent %s pushed to %s", intent_id, claimed.provider)
            if result.status is not None:
                self._apply_status(claimed, result.status)
            if result.payment_url:  # a web payment: no prompt comes, the citizen opens a link
                self._send(
                    claimed,
                    "payment_link",
                    {"url": result.payment_url},
                    f"payment-link:{intent_id}",
                )
        elif result.outcome is PushOutcome.REJECTED:
            log.warning(
                "payment intent %s refused by %s: %s", intent_id, claimed.provider, result.detail
            )
            if self._intents.mark_failed(intent_id, result.reason or FailureReason.OTHER):
                self._notify_failure(intent_id)
        elif result.outcome is PushOutcome.NOT_SENT:
            self._intents.release_push(intent_id)
            raise PushNotSentError(f"{claimed.provider} unreachable: {result.detail}")
        else:
            # The request may have reached the provider: pushing again could charge twice.
            # Its callback (our URL names the intent) or reconciliation will settle it.
            log.warning("payment intent %s push outcome unknown: %s", intent_id, result.detail)

    def _recover_pushing(self, intent: Intent) -> None:
        status = self.providers[intent.provider].query(intent)
        if status.state is PaymentState.NOT_FOUND and self._intents.release_push(intent.id):
            log.info("payment intent %s: crashed before the push; pushing now", intent.id)
            self.push(intent.id)
            return
        self._apply_status(intent, status)

    # --- callbacks -----------------------------------------------------------------------

    def accept_callback(self, provider: str, body: str, intent_hint: str | None) -> int:
        """Persist a raw callback and enqueue its processing; return its id."""
        callback_id, new = self._callbacks.record_callback(provider, body, intent_hint)
        # A repeat is enqueued again while unprocessed: the first answer may have been a 503
        # because Redis was down after the row was written (the job id keeps it to one job).
        if new or self._unprocessed(callback_id):
            # Urgent: at a deadline the queue holds a backlog of pushes (each a provider round
            # trip); the callback behind them would hold the customer's receipt for minutes.
            self._jobs.enqueue(
                self._callback_job,
                callback_id,
                job_id=f"payment-callback-{callback_id}",
                urgent=True,
            )
        return callback_id

    def _unprocessed(self, callback_id: int) -> bool:
        stored = self._callbacks.get_callback(callback_id)
        return stored is not None and stored.processed_at is None

    def process_callback(self, callback_id: int) -> str:
        """Match a stored callback to its intent and apply it; return what it did."""
        stored = self._callbacks.get_callback(callback_id)
        if stored is None or stored.processed_at is not None:
            return "skipped"
        outcome = self._process(callback_id, stored.provider, stored.body, stored.intent_hint)
        self._callbacks.mark_callback_processed(callback_id, outcome)
        return outcome

    def _process(self, callback_id: int, provider_name: str, body: str, hint: str | None) -> str:
        provider = self.providers.get(provider_name)
        if provider is None:
            return self._review(callback_id, provider_name, "unknown_provider", body)
        try:
            event = provider.parse_callback(body, {"intent": hint} if hint else {})
        except CallbackAuthError as error:
            return self._review(callback_id, provider_name, "bad_signature", f"{error}: {body}")
        except CallbackParseError as error:
            return self._review(callback_id, provider_name, "unparseable", f"{error}: {body}")
        except RecursionError:
            # json recurses per nesting level; the edge refuses such bodies (gateway/json_bodies.py)
            # but one stored before, or by another path, must reach a human, not crash the job.
            return self._review(callback_id, provider_name, "unparseable", "nested too deep")
        intent, problem = self._match(provider_name, event)
        if intent is None or problem is not None:
            return self._review(
                callback_id,
                provider_name,
                problem or "unknown_intent",
                body,
                intent.id if intent else None,
            )
        if event.provider_reference and intent.provider_reference is None:
            self._intents.attach_reference(intent.id, event.provider_reference)
            intent = self._intents.get(intent.id) or intent
        if _agrees(intent, event):
            return "ignored"  # a retry of a callback already applied
        # Never trust a callback alone, either way: the provider's status query decides.
        status = provider.query(intent)
        if status.state is PaymentState.SUCCEEDED and event.succeeded:
            self._succeed(intent.id, event.provider_receipt or status.provider_receipt)
            return "succeeded"
        if status.state is PaymentState.FAILED and not event.succeeded:
            # The status query's reason is the provider's own word; some callbacks have none.
            reason = status.reason if status.reason not in {None, FailureReason.OTHER} else None
            if self._intents.mark_failed(intent.id, reason or event.reason or FailureReason.OTHER):
                self._notify_failure(intent.id)
                return "failed"
            return "ignored"  # already final
        if status.state in {PaymentState.SUCCEEDED, PaymentState.FAILED, PaymentState.NOT_FOUND}:
            claimed = "success" if event.succeeded else "failure"
            detail = f"callback says {claimed}, status query says {status.state.value}: {body}"
            return self._review(
                callback_id, provider_name, "contradicted_by_status_query", detail, intent.id
            )
        # Pending or ambiguous: nothing moves; reconciliation asks again at its next pass.
        if intent.active:
            self._polls.schedule_check(intent.id, utcnow(), count=False)
        return "unconfirmed"

    def _match(self, provider: str, event: CallbackEvent) -> tuple[Intent | None, str | None]:
        by_id = self._intents.get(event.intent_id) if event.intent_id else None
        by_ref = (
            self._intents.by_provider_reference(provider, event.provider_reference)
            if event.provider_reference
            else None
        )
        if event.intent_id and by_id is None:
            return None, "unknown_intent"
        if by_id is not None and by_ref is not None and by_id.id != by_ref.id:
            return by_id, "reference_mismatch"
        intent = by_id or by_ref
        if intent is None:
            return None, "unknown_intent"
        if intent.provider != provider:
            return intent, "provider_mismatch"
        if (
            intent.provider_reference
            and event.provider_reference
            and intent.provider_reference != event.provider_reference
        ):
            return intent, "reference_mismatch"
        # Checked when the callback carries them (Airtel's and Orange's do not): the status
        # query confirms every callback anyway.
        if event.amount is not None and event.amount != intent.amount:
            return intent, "amount_mismatch"
        if event.phone is not None and event.phone != intent.phone:
            return intent, "phone_mismatch"
        return intent, None

    def _review(
        self,
        callback_id: int,
        provider: str,
        reason: str,
        detail: str,
        intent_id: str | None = None,
    ) -> str:
        self._reviews.add_review(
            dedupe_key=f"callback:{callback_id}:{reason}",
            provider=provider,
            reason=reason,
            detail=detail,
            callback_id=callback_id,
            intent_id=intent_id,
        )
        log.warning("payment callback %s held for review: %s", callback_id, reason)
        return f"review:{reason}"

    # --- outcomes ------------------------------------------------------------------------

    def _apply_status(self, intent: Intent, status: StatusResult) -> str:
        if status.state is PaymentState.SUCCEEDED:
            self._succeed(intent.id, status.provider_receipt)
            return "succeeded"
        if status.state is PaymentState.FAILED:
            if self._intents.mark_failed(intent.id, status.reason or FailureReason.OTHER):
                self._notify_failure(intent.id)
            return "failed"
        return "waiting"

    def _succeed(self, intent_id: str, provider_receipt: str | None) -> None:
        if self._intents.mark_succeeded(intent_id, provider_receipt):
            log.info("payment intent %s succeeded", intent_id)
        self.settle(intent_id)

    def settle(self, intent_id: str) -> None:
        """Issue the receipt, record the payment with the back office, send the receipt SMS."""
        intent = self._intents.get(intent_id)
        if intent is None or intent.status is not IntentStatus.SUCCEEDED or intent.settled_at:
            return
        now = datetime.now(UTC)
        code = self._receipts.issue_receipt(intent, now.astimezone(self._zone).date(), self._codec)
        parsed = self._codec.parse(code)
        fields = self._receipts.receipt_fields(parsed.serial) if parsed else None
        assert fields is not None, "a receipt just issued must be readable"
        outcome = self._record(intent, code, now)
        if outcome not in SETTLED_OK:
            # Money was taken but the assessment could not take it (paid twice, changed):
            # the receipt still proves the payment; a person arranges the refund.
            self._reviews.add_review(
                dedupe_key=f"settle:{intent.id}:{outcome.value}",
                provider=intent.provider,
                reason=outcome.value,
                detail=f"assessment {intent.assessment_id} amount {intent.amount}",
                intent_id=intent.id,
            )
        # SMS before marking settled: a crash in between re-sends with the same key (no dup).
        self._send(
            intent,
            self._receipt_template(intent),
            {"receipt_code": code, "date": city_date(fields.date)},
            f"payment-receipt:{intent.id}",
        )
        self._intents.mark_settled(intent.id, outcome.value, code)

    def _record(self, intent: Intent, code: str, now: datetime) -> RecordOutcome:
        """Tell the back office what was paid, the way this kind of payment is recorded."""
        # The three records differ only by what was paid: the rest is the same payment.
        paid: dict[str, Any] = {
            "payment_id": intent.id,
            "amount": intent.amount,
            "currency": intent.currency,
            "phone": intent.phone,
            "operator": intent.operator,
            "provider_reference": intent.provider_receipt or intent.provider_reference or "",
            "paid_at": now,
            "receipt_code": code,
        }
        if intent.kind is PaymentKind.REQUEST_FEE:
            return self._backend.record_fee_payment(
                FeePayment(reference=intent.assessment_reference, **paid)
            )
        if intent.kind is PaymentKind.PAYABLE:
            return self._backend.record_payable_payment(
                PayablePayment(payable_id=intent.tax_code, **paid)
            )
        return self._backend.record_payment(
            PaymentRecord(assessment_id=intent.assessment_id, **paid)
        )

    def _notify_failure(self, intent_id: str) -> None:
        intent = self._intents.get(intent_id)
        if intent is None or intent.status not in {IntentStatus.FAILED, IntentStatus.EXPIRED}:
            return
        reason = intent.reason or FailureReason.OTHER
        log.info("payment intent %s %s: %s", intent.id, intent.status.value, reason.value)
        self._send(
            intent,
            f"payment_failed_{reason.value}",
            {"short_code": self.config.short_code},
            f"payment-failed:{intent.id}",
        )

    def _receipt_template(self, intent: Intent) -> str:
        # A fee receipt is the first SMS about its request: it announces a counter visit too.
        if intent.kind is PaymentKind.REQUEST_FEE:
            document = self._backend.get_document_type(intent.tax_code)
            if document is not None and document.needs_visit:
                return "request_fee_receipt_visit"
        return RECEIPT_TEMPLATES[intent.kind]

    def _send(
        self, intent: Intent, template: str, extra: Mapping[str, str | int], key: str
    ) -> None:
        if self._sms is None:
            log.warning("no SMS service wired: %s for intent %s not sent", template, intent.id)
            return
        name = describe(self._backend, paid_for_intent(intent), intent.lang)
        money = self.config.money
        params: dict[str, str | int] = {
            "amount": money.number(intent.amount) if money else intent.amount,
            "currency": money.symbol if money else intent.currency,
            "tax": name,
            "ref": intent.assessment_reference,
            **extra,
        }
        if intent.kind is PaymentKind.REQUEST_FEE:
            params["document"] = name
            params["short_code"] = self.config.short_code
        self._sms.send(intent.phone, template, params, idempotency_key=key, lang=intent.lang)

    # --- reconciliation ------------------------------------------------------------------

    def reconcile(self, now: datetime | None = None) -> ReconcileReport:
        """Query intents stuck in flight, expire those past their deadline, settle successes."""
        now = now or utcnow()
        report = ReconcileReport()
        cutoff = now - timedelta(seconds=self.config.reconcile_after_seconds)
        for intent in self._intents.needing_attention(cutoff, now):
            try:
                report.add(self._reconcile_one(intent, now))
            except Exception:
                # One bad intent (provider down, back office down) must not stop the pass.
                log.exception("reconciling payment intent %s failed", intent.id)
                report.add("error")
        try:
            for outcome in self.expire_unpaid_requests(now):
                report.add(outcome)
        except Exception:
            log.exception("expiring unpaid document requests failed")
            report.add("error")
        return report

    def expire_unpaid_requests(self, now: datetime | None = None) -> list[str]:
        """Expire requests awaiting payment past REQUEST_PAYMENT_TTL, each with its SMS.

        A request whose payment is in flight (an active intent) or already taken (a
        succeeded intent not yet settled) is left alone: its money decides it.
        """
        now = now or utcnow()
        cutoff = (now - timedelta(seconds=self.config.request_payment_ttl_seconds)).replace(
            tzinfo=UTC
        )
        waiting = self._backend.list_requests(
            status=RequestStatus.AWAITING_PAYMENT, created_before=cutoff, limit=EXPIRY_BATCH
        )
        outcomes: list[str] = []
        for request in waiting:
            subject = FEE_SUBJECT.format(request.reference)
            if self._intents.active_for_assessment(
                subject
            ) or self._intents.succeeded_for_assessment(subject):
                outcomes.append("request_paying")
                continue
            expired = self._backend.expire_request(request.reference)
            if expired is None:
                continue  # paid or decided since we listed it
            log.info("request %s expired unpaid", request.reference)
            self._send_expiry(expired)
            outcomes.append("request_expired")
        return outcomes

    def _send_expiry(self, request: DocumentRequest) -> None:
        if self._sms is None:
            log.warning("no SMS service wired: request_expired %s not sent", request.reference)
            return
        citizen = self._backend.get_citizen(request.owner_phone)
        lang = citizen.language if citizen is not None and citizen.language else None
        params: dict[str, str | int] = {
            "ref": request.reference,
            "document": describe(
                self._backend,
                PaidFor(PaymentKind.REQUEST_FEE, request.document_code, request.reference),
                lang or "fr",
            ),
            "short_code": self.config.short_code,
        }
        self._sms.send(
            request.owner_phone,
            "request_expired",
            params,
            idempotency_key=f"request:{request.reference}:{len(request.history)}",
            lang=lang,
        )

    def _reconcile_one(self, intent: Intent, now: datetime) -> str:
        if intent.status is IntentStatus.SUCCEEDED:
            self.settle(intent.id)
            return "settled"
        past_deadline = now >= intent.deadline_at
        if intent.status is IntentStatus.PENDING:
            if past_deadline:
                return self._expire(intent.id)
            self._push_again(intent.id)  # the first push job was lost
            return "push_requeued"
        status = self.providers[intent.provider].query(intent)
        stale = now - intent.updated_at >= timedelta(seconds=self.config.stale_push_seconds)
        if (
            intent.status is IntentStatus.PUSHING
            and status.state is PaymentState.NOT_FOUND
            and stale
            and not past_deadline
            and self._intents.release_push(intent.id)
        ):
            self._push_again(intent.id)  # its job died before reaching the provider
            return "push_requeued"
        if status.state in {PaymentState.SUCCEEDED, PaymentState.FAILED}:
            return self._apply_status(intent, status)
        if status.state is PaymentState.NOT_FOUND and past_deadline:
            return self._expire(intent.id)  # the provider never saw it: nothing can be charged
        return self._ask_again(intent, status, now, past_deadline)

    def _ask_again(
        self, intent: Intent, status: StatusResult, now: datetime, past_deadline: bool
    ) -> str:
        """Keep an unanswered intent active and ask again later, less and less often.

        Past its deadline an intent whose provider still cannot say (ambiguous, in progress,
        down) is not expired: the money may yet move, so the assessment stays blocked (a new
        confirm answers "already in progress") and a person is told.
        """
        checks = self._polls.checks(intent.id)
        delay = min(
            self.config.reconcile_after_seconds * 2**checks, self.config.poll_backoff_max_seconds
        )
        self._polls.schedule_check(intent.id, now + timedelta(seconds=delay))
        if not past_deadline:
            return "waiting"
        if self._reviews.add_review(
            dedupe_key=f"unresolved:{intent.id}",
            provider=intent.provider,
            reason="unresolved_after_deadline",
            detail=f"status {status.state.value} {status.detail}".strip(),
            intent_id=intent.id,
        ):
            log.warning("payment intent %s unresolved after its deadline", intent.id)
        return "unresolved"

    def _push_again(self, intent_id: str) -> None:
        self._jobs.enqueue(
            self._push_job, intent_id, timeout_seconds=self.config.push_job_timeout_seconds
        )

    def _expire(self, intent_id: str) -> str:
        if self._intents.expire(intent_id):
            self._notify_failure(intent_id)
        return "expired"


def _agrees(intent: Intent, event: CallbackEvent) -> bool:
    """Tell whether the intent already ended the way the callback says (a retried callback)."""
    if event.succeeded:
        return intent.status is IntentStatus.SUCCEEDED and intent.settled_at is not None
    return intent.status in {IntentStatus.FAILED, IntentStatus.EXPIRED}


def _outcome_of(intent: Intent) -> StartOutcome:
    if intent.active:
        return StartOutcome.ALREADY_PENDING
    if intent.status is IntentStatus.SUCCEEDED:
        return StartOutcome.ALREADY_PAID
    return StartOutcome.CLOSED
