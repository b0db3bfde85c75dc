"""The domain's types and the Backend port every adapter (SQL, city portal) implements.

Nothing here knows of USSD, SMS or HTTP handlers. Texts shown to citizens (tax and document
names, required documents, offices) are data: mappings of language code to text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # civic.appointments imports this module's errors at run time
    from civic.appointments import AppointmentService, Attendance, Booking

Localized = Mapping[str, str]  # language code -> text


class RequestStatus(StrEnum):
    """Where a document request stands."""

    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    NEEDS_VISIT = "needs_visit"
    APPROVED = "approved"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    AWAITING_PAYMENT = "awaiting_payment"  # filed, its fee not paid yet (not reviewed before)
    EXPIRED = "expired"  # its fee was never paid within REQUEST_PAYMENT_TTL
    # The citizen must book a slot at a counter (a reason code says why); the appointments
    # module proposes or books it (docs/contracts.md, "appointment_needed seam").
    APPOINTMENT_NEEDED = "appointment_needed"


class FeeStatus(StrEnum):
    """Where a request's fee stands; ready/delivered are refused while it is `due`."""

    NONE = "none"  # the document is free
    DUE = "due"
    PAID = "paid"
    WAIVED = "waived"  # an agent recorded a waiver with a reason in the history


class HistoryEvent(StrEnum):
    """What a history entry records besides a status change."""

    FEE_PAID = "fee_paid"
    FEE_WAIVED = "fee_waived"


class Decision(StrEnum):
    """What an agent may decide on a request (the agents' API vocabulary)."""

    IN_REVIEW = "in_review"
    NEEDS_VISIT = "needs_visit"
    APPROVE = "approve"
    REJECT = "reject"
    READY = "ready"
    DELIVERED = "delivered"
    WAIVE_FEE = "waive_fee"  # with a reason; a request awaiting payment then goes to submitted
    APPOINTMENT_NEEDED = "appointment_needed"  # with a reason code; the citizen books a slot


@dataclass(frozen=True, slots=True)
class Citizen:
    """A person known by their E.164 phone number."""

    phone: str
    name: str | None = None
    id_number: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class TaxType:
    """A local tax the city collects."""

    code: str
    names: Localized


@dataclass(frozen=True, slots=True)
class Assessment:
    """What a taxpayer or property owes for one tax and period."""

    id: str
    tax_code: str
    reference: str
    amount: int  # whole units of `currency`, as mobile money charges them
    currency: str
    period: str
    due_date: date
    paid: bool
    paid_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PayableKind:
    """A kind of thing citizens pay besides taxes (school fees, a licence renewal), as data.

    `reference_label` names the reference on screens ("N° élève"); `pattern` is the regular
    expression a typed reference must match; `receipt` is what a receipt says was paid, per
    language, with `{period}` (and optionally `{reference}`) filled from the payable.
    """

    code: str
    names: Localized
    reference_label: Localized
    pattern: str
    receipt: Localized


@dataclass(frozen=True, slots=True)
class Payable:
    """One amount owed for one kind, reference and period: a pupil's term, a licence's year.

    `payer` is who owes it as the city knows them (a school and class, a business name); it
    is shown on the confirm screen so the citizen checks they pay for the right one.
    """

    id: str
    kind: str
    reference: str
    payer: str
    amount: int  # whole units of `currency`
    currency: str
    period: str
    due_date: date
    paid: bool
    paid_at: datetime | None = None
    receipt_code: str | None = None  # the receipt of the payment that settled it


@dataclass(frozen=True, slots=True)
class PayablePayment:
    """A confirmed mobile-money payment settling a payable."""

    payment_id: str  # idempotency: recording the same id twice changes nothing
    payable_id: str
    amount: int
    currency: str
    phone: str
    operator: str
    provider_reference: str
    paid_at: datetime
    receipt_code: str


@dataclass(frozen=True, slots=True)
class Reason:
    """A refusal or visit reason an agent picks by code; the citizen reads it in their language."""

    code: str
    decisions: tuple[Decision, ...]  # reject, needs_visit and/or appointment_needed
    texts: Localized


@dataclass(frozen=True, slots=True)
class Office:
    """Where citizens collect documents: a pickup instruction comes from here, per language."""

    id: str
    names: Localized
    address: Localized
    hours: Localized


@dataclass(frozen=True, slots=True)
class FieldChoice:
    """One answer of a `choice` field: the stored value and its label per language."""

    value: str
    labels: Localized


@dataclass(frozen=True, slots=True)
class DocumentField:
    """One piece of a request's dossier, typed by the citizen on the phone.

    `validator` names a registered validator (menus/validators.py FIELD_VALIDATORS:
    person_name, past_date, place, id_number with `pattern`, choice with `choices`).
    """

    key: str
    labels: Localized
    validator: str
    required: bool = True
    pattern: str | None = None
    choices: tuple[FieldChoice, ...] = ()


@dataclass(frozen=True, slots=True)
class DocumentType:
    """What citizens can request, with its procedure guide.

    `kind` says what the request is (a document delivery, an electoral registration, a
    dossier, a declaration, a correction...): the catalogue's `workflows:` gives each kind its
    statuses and legal transitions (civic.workflows), carried here as `transitions`; empty
    means the document delivery's (civic.workflow.TRANSITIONS).
    """

    code: str
    names: Localized
    fee: int
    currency: str
    required_documents: Mapping[str, tuple[str, ...]]  # language -> items
    needs_visit: bool  # a physical check at the counter before approval
    requires_identity: bool  # name and ID-document number captured at request time
    delay_days: int
    office: Localized  # where to go
    reasons: tuple[Reason, ...] = ()  # the codes agents may give when refusing or asking a visit
    fields: tuple[DocumentField, ...] = ()  # the dossier asked on the phone, in order
    # What cannot be typed on a phone (a photo, an ID card): "bring it to the counter".
    at_counter: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    kind: str = "document"
    transitions: Mapping[RequestStatus, Mapping[Decision, RequestStatus]] = field(
        default_factory=dict
    )
    # The appointment service (civic.appointments) a citizen books when an agent decides
    # "an appointment is needed"; None: the tracking screen only says to book at the office.
    appointment_service: str | None = None

    def reason(self, code: str, decision: Decision) -> Reason | None:
        """Return the reason `code` when it may explain `decision`."""
        return next((r for r in self.reasons if r.code == code and decision in r.decisions), None)


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One entry of a request's append-only history."""

    status: RequestStatus
    at: datetime
    agent_id: str | None
    reason: str | None = None  # the agent's free text, appended to the coded reason
    pickup: str | None = None  # the agent's free text, appended to the office's instruction
    reason_code: str | None = None  # a code of the document's `reasons`
    office_id: str | None = None  # the office named by a ready decision
    event: HistoryEvent | None = None  # fee paid / fee waived (the status may stay the same)


@dataclass(frozen=True, slots=True)
class DocumentRequest:
    """A citizen's request for a document, with its full history."""

    reference: str  # digits with a trailing check digit
    document_code: str
    owner_phone: str
    status: RequestStatus
    created_at: datetime
    history: tuple[StatusChange, ...] = field(default_factory=tuple)
    applicant_name: str | None = None
    id_number: str | None = None
    reason: str | None = None  # the last rejection / needs-visit free text
    pickup: str | None = None  # free text about the pickup, once ready
    reason_code: str | None = None  # the last rejection / needs-visit reason code
    office_id: str | None = None  # where to collect it, once ready
    dossier: Mapping[str, str] = field(default_factory=dict)  # field key -> typed value
    fee: int = 0  # whole units of `currency`, as the catalogue said when it was filed
    currency: str = ""
    fee_status: FeeStatus = FeeStatus.NONE
    fee_receipt: str | None = None  # the receipt code of the payment that settled the fee


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """A confirmed mobile-money payment to settle an assessment."""

    payment_id: str  # idempotency: recording the same id twice changes nothing
    assessment_id: str
    amount: int
    currency: str
    phone: str
    operator: str
    provider_reference: str
    paid_at: datetime
    receipt_code: str


@dataclass(frozen=True, slots=True)
class FeePayment:
    """A confirmed mobile-money payment of a request's fee."""

    payment_id: str  # idempotency: recording the same id twice changes nothing
    reference: str  # the request's
    amount: int
    currency: str
    phone: str
    operator: str
    provider_reference: str
    paid_at: datetime
    receipt_code: str


class RecordOutcome(StrEnum):
    """What recording a payment did."""

    RECORDED = "recorded"
    ALREADY_RECORDED = "already_recorded"  # same payment id seen before
    ASSESSMENT_ALREADY_PAID = "assessment_already_paid"  # another payment settled it
    AMOUNT_MISMATCH = "amount_mismatch"
    UNKNOWN_ASSESSMENT = "unknown_assessment"
    UNKNOWN_REQUEST = "unknown_request"
    FEE_ALREADY_SETTLED = "fee_already_settled"  # paid by another payment, or waived
    UNKNOWN_PAYABLE = "unknown_payable"
    PAYABLE_ALREADY_PAID = "payable_already_paid"  # another payment settled it


class CivicError(Exception):
    """Base of the domain's errors."""


class BackendUnavailableError(CivicError):
    """The back office cannot be reached or answered too slowly; try again later."""


class UnknownRequestError(CivicError):
    """No request has that reference."""


class IllegalTransitionError(CivicError):
    """The decision is not allowed from the request's current status."""

    def __init__(self, current: RequestStatus, decision: Decision) -> None:
        super().__init__(f"cannot {decision.value} a request that is {current.value}")
        self.current = current
        self.decision = decision


class InvalidDecisionError(CivicError):
    """A decision's text field is missing or unusable; `field` names it."""

    field = "reason"


class ReasonRequiredError(InvalidDecisionError):
    """Reject and needs-visit decisions must say why, with a reason code."""

    field = "reason_code"


class WaiverReasonRequiredError(ReasonRequiredError):
    """A fee waiver must say why, in the agent's own words (kept in the history)."""

    field = "reason"


class PickupRequiredError(InvalidDecisionError):
    """A ready decision must name the office where the document is collected."""

    field = "office"


class UnknownReasonError(InvalidDecisionError):
    """The reason code is not one of the document's reasons for this decision."""

    field = "reason_code"


class UnknownOfficeError(InvalidDecisionError):
    """No office has that id."""

    field = "office"


class TextTooLongError(InvalidDecisionError):
    """A reason or pickup text is longer than an SMS placeholder allows."""

    def __init__(self, field: str, limit: int) -> None:
        super().__init__(f"{field} is longer than {limit} characters")
        self.field = field
        self.limit = limit


class FeeUnpaidError(CivicError):
    """Ready and delivered are refused while the fee is due and not waived."""

    def __init__(self, current: RequestStatus, decision: Decision) -> None:
        super().__init__(f"cannot {decision.value}: the fee is unpaid (pay it or waive it)")
        self.current = current
        self.decision = decision


class DossierError(CivicError):
    """A dossier misses a required field or carries one the document does not declare."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"dossier field {field}: {problem}")
        self.field = field
        self.problem = problem


class UnknownDocumentTypeError(CivicError):
    """No document type has that code."""


class IdentityRequiredError(CivicError):
    """This document needs the applicant's name and ID-document number."""


class Backend(Protocol):
    """The back office as the gateway sees it; adapters: civic.sql, civic.http."""

    def ping(self) -> None:
        """Raise BackendUnavailableError unless the back office answers."""

    def list_tax_types(self) -> list[TaxType]:
        """Return the city's taxes in display order."""

    def find_assessment(self, tax_code: str, reference: str) -> Assessment | None:
        """Return the assessment of `reference` for `tax_code`, if any."""

    def get_assessment(self, assessment_id: str) -> Assessment | None:
        """Return an assessment by id."""

    def record_payment(self, record: PaymentRecord) -> RecordOutcome:
        """Settle an assessment; idempotent by `record.payment_id`."""

    def list_payable_kinds(self) -> list[PayableKind]:
        """Return the kinds of payables (school fees, licence renewals), in display order."""

    def find_payable(self, kind: str, reference: str) -> Payable | None:
        """Return the open payable of `reference` for `kind` (else its latest paid one)."""

    def get_payable(self, payable_id: str) -> Payable | None:
        """Return a payable by id."""

    def record_payable_payment(self, payment: PayablePayment) -> RecordOutcome:
        """Settle a payable; idempotent by `payment.payment_id`."""

    def list_document_types(self) -> list[DocumentType]:
        """Return the documents citizens can request, in display order."""

    def get_document_type(self, code: str) -> DocumentType | None:
        """Return one document type."""

    def list_offices(self) -> list[Office]:
        """Return the offices where documents are collected."""

    def get_office(self, office_id: str) -> Office | None:
        """Return one office."""

    def create_request(
        self,
        *,
        owner_phone: str,
        document_code: str,
        idempotency_key: str,
        applicant_name: str | None = None,
        id_number: str | None = None,
        dossier: Mapping[str, str] | None = None,
        collect_fee: bool = False,
        announce: bool = False,
    ) -> DocumentRequest:
        """Create a request; the same key returns the same request.

        With `collect_fee` and a fee, the request waits in awaiting_payment until
        record_fee_payment; otherwise it is submitted (a fee is then due at the counter).
        Raise DossierError when `dossier` misses a required field or has an unknown one.
        `announce`: Guichet owes the citizen the entry's SMS alert (owed_alerts lists it
        until alert_sent), recorded with the entry; seeded and imported rows owe nothing.
        """

    def record_fee_payment(self, payment: FeePayment) -> RecordOutcome:
        """Settle a request's fee (awaiting_payment/expired -> submitted); idempotent by id."""

    def expire_request(self, reference: str) -> DocumentRequest | None:
        """Move a request still awaiting payment to expired; None when it is not awaiting."""

    def get_request(self, reference: str) -> DocumentRequest | None:
        """Return a request by reference."""

    def list_requests(
        self,
        *,
        owner_phone: str | None = None,
        status: RequestStatus | None = None,
        limit: int = 20,
        offset: int = 0,
        created_before: datetime | None = None,
    ) -> list[DocumentRequest]:
        """Return requests, newest first."""

    def decide(
        self,
        reference: str,
        decision: Decision,
        *,
        agent_id: str,
        reason: str | None = None,
        pickup: str | None = None,
        reason_code: str | None = None,
        office_id: str | None = None,
        announce: bool = False,
    ) -> DocumentRequest:
        """Apply an agent's decision; raise IllegalTransitionError, FeeUnpaidError, ...

        `announce` as for create_request, for the decision's entry.
        """

    def owed_alerts(self, before: datetime, limit: int) -> list[tuple[str, int]]:
        """Return (reference, entry number from 1) of SMS alerts owed, entries before `before`.

        The city portal adapter owes none: its requests' alerts are not recorded durably.
        """

    def alert_sent(self, reference: str, seq: int) -> None:
        """Clear the owed alert of entry `seq` (from 1): accepted by SmsService, or none due."""

    def get_citizen(self, phone: str) -> Citizen | None:
        """Return the citizen with this phone, if known."""

    def save_citizen(self, citizen: Citizen) -> None:
        """Create or update a citizen."""

    # --- appointments (civic.appointments; an adapter without them raises NotSupportedError)

    def list_appointment_services(self) -> list[AppointmentService]:
        """Return the services one may book, in display order."""

    def get_appointment_service(self, code: str) -> AppointmentService | None:
        """Return one appointment service."""

    def taken_places(
        self, service_code: str, first: date, last: date
    ) -> dict[date, dict[int, int]]:
        """Return the places held per local day and start minute between two days."""

    def book_appointment(
        self, *, service_code: str, day: date, minute: int, phone: str, idempotency_key: str
    ) -> Booking:
        """Book one place atomically; raise SlotFullError, SlotNotOfferedError, ..."""

    def move_booking(self, code: str, *, day: date, minute: int) -> Booking:
        """Move an active booking to another slot of its service, keeping its code."""

    def cancel_booking(self, code: str) -> Booking:
        """Cancel an active booking and free its place; raise BookingClosedError otherwise."""

    def mark_booking(self, code: str, attendance: Attendance, *, agent_id: str) -> Booking:
        """Record attended / no-show once."""

    def get_booking(self, code: str) -> Booking | None:
        """Return a booking by code."""

    def list_bookings(self, *, phone: str, limit: int = 10) -> list[Booking]:
        """Return a phone's active bookings, soonest first."""

    def agenda(self, service_code: str, day: date, counter_id: str | None = None) -> list[Booking]:
        """Return the day's bookings holding a place, by time and counter."""

    def due_reminders(self, now: datetime, limit: int = 500) -> list[Booking]:
        """Return active bookings whose reminder window holds `now` and that had none."""

    def mark_reminded(self, code: str, at: datetime) -> bool:
        """Claim a booking's reminder; False when it was already claimed or cancelled."""
