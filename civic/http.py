"""civic.ports.Backend for a city that already has a portal (docs/openapi/city-portal.yaml).

Every call has a connect and a read timeout; a network error, a timeout, a 5xx, an auth
refusal or an unreadable answer becomes BackendUnavailableError, so a USSD hop shows
"try again later" instead of hanging or crashing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final, TypeVar
from urllib.parse import quote

import requests

from civic import codec, codec_payables
from civic.appointments import (
    AppointmentService,
    Attendance,
    Booking,
    NotSupportedError,
)
from civic.ports import (
    Assessment,
    BackendUnavailableError,
    Citizen,
    Decision,
    DocumentRequest,
    DocumentType,
    DossierError,
    FeePayment,
    FeeUnpaidError,
    IdentityRequiredError,
    IllegalTransitionError,
    Office,
    Payable,
    PayableKind,
    PayablePayment,
    PaymentRecord,
    PickupRequiredError,
    ReasonRequiredError,
    RecordOutcome,
    RequestStatus,
    TaxType,
    TextTooLongError,
    UnknownDocumentTypeError,
    UnknownOfficeError,
    UnknownReasonError,
    UnknownRequestError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_CONNECT_TIMEOUT: Final = 1.0
DEFAULT_READ_TIMEOUT: Final = 3.0


class HttpBackend:
    """civic.ports.Backend over a city portal's JSON API."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str = "",
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = (connect_timeout, read_timeout)
        self._session = session or requests.Session()
        self._session.headers["Accept"] = "application/json"
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    # --- transport ------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """Send one request; return (status, decoded JSON or None) for 2xx and 4xx answers."""
        try:
            response = self._session.request(
                method, self._base + path, params=params, json=body, timeout=self._timeout
            )
        except requests.RequestException as error:
            raise BackendUnavailableError(
                f"city portal unreachable: {type(error).__name__}"
            ) from error
        status = response.status_code
        if status >= 500 or status in (401, 403, 429):
            log.warning("city portal answered %s to %s %s", status, method, path.split("/")[1])
            raise BackendUnavailableError(f"city portal answered {status}")
        if status == 204 or not response.content:
            return status, None
        try:
            return status, response.json()
        except ValueError as error:
            raise BackendUnavailableError(
                "city portal answered something other than JSON"
            ) from error

    def _read(self, raw: Any, reader: Callable[[Any], T]) -> T:
        try:
            return reader(raw)
        except (KeyError, TypeError, ValueError) as error:
            raise BackendUnavailableError(
                f"city portal sent an unreadable answer: {error}"
            ) from error

    def _items(self, raw: Any) -> list[Any]:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("items"), list):
            raise BackendUnavailableError("city portal sent a list without items")
        return list(raw["items"])

    def _expect(self, status: int, *allowed: int) -> None:
        if status not in allowed:
            raise BackendUnavailableError(f"city portal answered {status} unexpectedly")

    # --- Backend --------------------------------------------------------------------------

    def ping(self) -> None:
        """Raise BackendUnavailableError unless the portal answers."""
        status, _ = self._call("GET", "/ping")
        self._expect(status, 200, 204)

    def list_tax_types(self) -> list[TaxType]:
        """Return the city's taxes in display order."""
        status, raw = self._call("GET", "/tax-types")
        self._expect(status, 200)
        return [self._read(item, codec.tax_type_from_json) for item in self._items(raw)]

    def find_assessment(self, tax_code: str, reference: str) -> Assessment | None:
        """Return the assessment of `reference` for `tax_code`, if any."""
        status, raw = self._call(
            "GET", "/assessments", params={"tax_code": tax_code, "reference": reference}
        )
        self._expect(status, 200)
        items = self._items(raw)
        return self._read(items[0], codec.assessment_from_json) if items else None

    def get_assessment(self, assessment_id: str) -> Assessment | None:
        """Return an assessment by id."""
        status, raw = self._call("GET", f"/assessments/{_seg(assessment_id)}")
        if status == 404:
            return None
        self._expect(status, 200)
        return self._read(raw, codec.assessment_from_json)

    def record_payment(self, record: PaymentRecord) -> RecordOutcome:
        """Settle an assessment; idempotent by `record.payment_id`."""
        status, raw = self._call("POST", "/payments", body=codec.paid_to_json(record))
        self._expect(status, 200, 201)
        return self._read(raw, lambda r: RecordOutcome(r["outcome"]))

    def list_payable_kinds(self) -> list[PayableKind]:
        """Return the kinds of payables in display order."""
        status, raw = self._call("GET", "/payable-kinds")
        self._expect(status, 200)
        return [
            self._read(item, codec_payables.payable_kind_from_json) for item in self._items(raw)
        ]

    def find_payable(self, kind: str, reference: str) -> Payable | None:
        """Return the open payable of `reference` for `kind` (else its latest paid one)."""
        status, raw = self._call("GET", "/payables", params={"kind": kind, "reference": reference})
        self._expect(status, 200)
        items = self._items(raw)
        return self._read(items[0], codec_payables.payable_from_json) if items else None

    def get_payable(self, payable_id: str) -> Payable | None:
        """Return a payable by id."""
        status, raw = self._call("GET", f"/payables/{_seg(payable_id)}")
        if status == 404:
            return None
        self._expect(status, 200)
        return self._read(raw, codec_payables.payable_from_json)

    def record_payable_payment(self, payment: PayablePayment) -> RecordOutcome:
        """Settle a payable; idempotent by `payment.payment_id`."""
        status, raw = self._call(
            "POST",
            f"/payables/{_seg(payment.payable_id)}/payments",
            body=codec.paid_to_json(payment),
        )
        if status == 404:
            return RecordOutcome.UNKNOWN_PAYABLE
        self._expect(status, 200, 201)
        return self._read(raw, lambda r: RecordOutcome(r["outcome"]))

    def list_document_types(self) -> list[DocumentType]:
        """Return the documents citizens can request, in display order."""
        status, raw = self._call("GET", "/document-types")
        self._expect(status, 200)
        return [self._read(item, codec.document_type_from_json) for item in self._items(raw)]

    def get_document_type(self, code: str) -> DocumentType | None:
        """Return one document type."""
        status, raw = self._call("GET", f"/document-types/{_seg(code)}")
        if status == 404:
            return None
        self._expect(status, 200)
        return self._read(raw, codec.document_type_from_json)

    def list_offices(self) -> list[Office]:
        """Return the offices where documents are collected."""
        status, raw = self._call("GET", "/offices")
        self._expect(status, 200)
        return [self._read(item, codec.office_from_json) for item in self._items(raw)]

    def get_office(self, office_id: str) -> Office | None:
        """Return one office."""
        status, raw = self._call("GET", f"/offices/{_seg(office_id)}")
        if status == 404:
            return None
        self._expect(status, 200)
        return self._read(raw, codec.office_from_json)

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
        announce: bool = False,  # the portal keeps no owed alerts (ports)
    ) -> DocumentRequest:
        """Create a request (awaiting_payment or submitted); the same key returns it again."""
        body = {
            "owner_phone": owner_phone,
            "document_code": document_code,
            "idempotency_key": idempotency_key,
            "applicant_name": applicant_name,
            "id_number": id_number,
            "dossier": dict(dossier or {}),
            "collect_fee": collect_fee,
        }
        status, raw = self._call("POST", "/requests", body=body)
        if status == 422:
            error = _error_code(raw)
            if error == "unknown_document_type":
                raise UnknownDocumentTypeError(document_code)
            if error == "identity_required":
                raise IdentityRequiredError(document_code)
            if error == "invalid_dossier":
                raise self._read(
                    raw, lambda r: DossierError(str(r["field"]), str(r.get("message", "")))
                )
        self._expect(status, 200, 201)
        return self._read(raw, codec.request_from_json)

    def record_fee_payment(self, payment: FeePayment) -> RecordOutcome:
        """Settle a request's fee (awaiting_payment/expired -> submitted); idempotent by id."""
        status, raw = self._call(
            "POST",
            f"/requests/{_seg(payment.reference)}/fee-payments",
            body=codec.paid_to_json(payment),
        )
        if status == 404:
            return RecordOutcome.UNKNOWN_REQUEST
        self._expect(status, 200, 201)
        return self._read(raw, lambda r: RecordOutcome(r["outcome"]))

    def expire_request(self, reference: str) -> DocumentRequest | None:
        """Move a request still awaiting payment to expired; None when it is not awaiting."""
        status, raw = self._call("POST", f"/requests/{_seg(reference)}/expiry")
        if status in (404, 409):
            return None
        self._expect(status, 200)
        return self._read(raw, codec.request_from_json)

    def get_request(self, reference: str) -> DocumentRequest | None:
        """Return a request by reference."""
        status, raw = self._call("GET", f"/requests/{_seg(reference)}")
        if status == 404:
            return None
        self._expect(status, 200)
        return self._read(raw, codec.request_from_json)

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
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if created_before is not None:
            params["created_before"] = codec.when(created_before)
        if owner_phone is not None:
            params["owner_phone"] = owner_phone
        if status is not None:
            params["status"] = status.value
        code, raw = self._call("GET", "/requests", params=params)
        self._expect(code, 200)
        return [self._read(item, codec.request_from_json) for item in self._items(raw)]

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
        announce: bool = False,  # the portal keeps no owed alerts (ports)
    ) -> DocumentRequest:
        """Apply an agent's decision; raise IllegalTransitionError, FeeUnpaidError, ..."""
        body = {
            "decision": decision.value,
            "agent_id": agent_id,
            "reason": reason,
            "pickup": pickup,
            "reason_code": reason_code,
            "office_id": office_id,
        }
        status, raw = self._call("POST", f"/requests/{_seg(reference)}/decisions", body=body)
        if status == 404:
            raise UnknownRequestError(reference)
        if status == 409:
            current = self._read(raw, lambda r: RequestStatus(r["status"]))
            if _error_code(raw) == "fee_unpaid":
                raise FeeUnpaidError(current, decision)
            raise IllegalTransitionError(current, decision)
        if status == 422:
            error = _error_code(raw)
            if error == "reason_required":
                raise ReasonRequiredError(str(raw.get("message", "")))
            if error == "pickup_required":
                raise PickupRequiredError(str(raw.get("message", "")))
            if error == "unknown_reason_code":
                raise UnknownReasonError(str(raw.get("message", "")))
            if error == "unknown_office":
                raise UnknownOfficeError(str(raw.get("message", "")))
            if error == "text_too_long":
                raise self._read(raw, lambda r: TextTooLongError(str(r["field"]), int(r["limit"])))
        self._expect(status, 200)
        return self._read(raw, codec.request_from_json)

    def owed_alerts(self, before: datetime, limit: int) -> list[tuple[str, int]]:
        """Return no owed alert: the portal's protocol has none (docs/contracts.md)."""
        return []

    def alert_sent(self, reference: str, seq: int) -> None:
        """Nothing to clear: the portal records no owed alert."""

    def get_citizen(self, phone: str) -> Citizen | None:
        """Return the citizen with this phone, if known."""
        status, raw = self._call("GET", f"/citizens/{_seg(phone)}")
        if status == 404:
            return None
        self._expect(status, 200)
        return self._read(raw, codec.citizen_from_json)

    def save_citizen(self, citizen: Citizen) -> None:
        """Create or update a citizen."""
        status, _ = self._call(
            "PUT", f"/citizens/{_seg(citizen.phone)}", body=codec.citizen_to_json(citizen)
        )
        self._expect(status, 200, 201, 204)

    # --- appointments ---------------------------------------------------------------------
    # docs/openapi/city-portal.yaml has no appointments yet: every call says so, and the
    # screens render the engine's "unavailable" (NotSupportedError is a BackendUnavailableError).

    def list_appointment_services(self) -> list[AppointmentService]:
        """Raise NotSupportedError: the portal contract has no appointments."""
        raise _no_appointments()

    def get_appointment_service(self, code: str) -> AppointmentService | None:
        """Raise NotSupportedError: the portal contract has no appointments."""
        raise _no_appointments()

    def taken_places(
        self, service_code: str, first: date, last: date
    ) -> dict[date, dict[int, int]]:
        """Raise NotSupportedError: the portal contract has no appointments."""
        raise _no_appointments()

    def book_appointment(
        self, *, service_code: str, day: date, minute: int, phone: str, idempotency_key: str
    ) -> Booking:
        """Raise NotSupportedError: the portal contract has no appointments."""
        raise _no_appointments()

    def move_booking(self, code: str, *, day: date, minute: int) -> Booking:
        """Raise NotSupportedError: the portal contract has no appointments."""
        raise _no_appointments()

    def cancel_booking(self, code: str) -> Booking:
        """Raise NotSupportedError: the portal contract has no appointments."""
        raise _no_appointments()

    def mark_booking(self, code: str, attendance: Attendance, *, agent_id: str) -> Booking:
        """Raise NotSupportedError: the portal contract has no appointments."""
        raise _no_appointments()

    def get_booking(self, code: str) -> Booking | None:
        """Raise NotSupportedError: the portal contract has no appointments."""
        raise _no_appointments()

    def list_bookings(self, *, phone: str, limit: int = 10) -> list[Booking]:
        """Raise NotSupportedError: the portal contract has no appointments."""
        raise _no_appointments()

    def agenda(self, service_code: str, day: date, counter_id: str | None = None) -> list[Booking]:
        """Raise NotSupportedError: the portal contract has no appointments."""
        raise _no_appointments()

    def due_reminders(self, now: datetime, limit: int = 500) -> list[Booking]:
        """Return nothing: no booking lives here, so the reminder sweep has nothing to do."""
        return []

    def mark_reminded(self, code: str, at: datetime) -> bool:
        """Raise NotSupportedError: the portal contract has no appointments."""
        raise _no_appointments()


def _no_appointments() -> NotSupportedError:
    return NotSupportedError("the city portal contract (city-portal.yaml) has no appointments")


def _seg(value: str) -> str:
    """Quote one path segment (a phone's `+`, anything a user typed)."""
    return quote(value, safe="")


def _error_code(raw: Any) -> str | None:
    return str(raw.get("error")) if isinstance(raw, Mapping) else None
