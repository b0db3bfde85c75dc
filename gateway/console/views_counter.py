"""The assisted counter: an agent files a request or books an appointment for a citizen.

The citizen standing at the counter proves consent with a one-time code sent to their phone
(sms.otp.OtpService, as the portal's OTP API does): the agent types what the citizen says,
the gateway sends the code, the citizen reads it out, and only then is the request filed or
the place booked. From then on the citizen gets the same SMS as if they had dialled (the
request's alerts, the booking's confirmation and reminder).

The code is bound to the exact draft: its OTP purpose is a digest of the draft (kind, phone,
every typed field and a random nonce), so a code given for one request cannot file another,
and a field changed after the code was sent makes the code fail. The draft travels in the
form itself (the agent's page shows it anyway); nothing about it is stored server-side but
the OTP's keyed MAC. The code is never logged nor audited, only that one was sent or refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final

import redis
from flask import current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue

from civic import references
from civic.appointments import (
    AppointmentService,
    Booking,
    BookingClosedError,
    SlotFullError,
    SlotNotOfferedError,
    UnknownServiceError,
    clock_text,
    free_slots,
)
from civic.ports import (
    Backend,
    Citizen,
    DocumentRequest,
    DocumentType,
    DossierError,
    IdentityRequiredError,
    UnknownDocumentTypeError,
)
from gateway.console.accounts import Role, StaffUser
from gateway.console.supervision import phone_e164
from gateway.console.views_requests import Catalogue
from gateway.console.web import audit, blueprint, lang, nav, page, refusal, requires, staff, t
from gateway.services import services_of
from menus.registry import FormField, Option
from menus.validators import field_check
from runtime.masking import mask_phone
from sms import appointment_alerts, request_alerts
from sms.otp import OtpService

log = logging.getLogger(__name__)

KINDS: Final = ("request", "appointment")
COUNTER_TEMPLATE: Final = "otp_counter"  # tells the citizen to read it to the agent
MAX_TEXT: Final = 60  # a dossier column (menus.validators.MAX_FIELD_LENGTH)
NONCE_BYTES: Final = 8

nav("console.counter", "nav_counter", Role.AGENT, order=15)


def _backend() -> Backend:
    return services_of(current_app).get(Backend)  # type: ignore[type-abstract]


def _otp() -> OtpService:
    return services_of(current_app).get(OtpService)


@dataclass(slots=True)
class Draft:
    """What the agent typed for the citizen: a request's dossier, or a slot to book."""

    kind: str  # request | appointment
    target: str  # the document code or the appointment service code
    phone_raw: str
    values: dict[str, str]  # field key -> what was typed (choice: its number)
    nonce: str
    phone: str | None = None  # E.164 once valid
    clean: dict[str, str] = field(default_factory=dict)  # field key -> canonical value
    errors: dict[str, str] = field(default_factory=dict)  # field key -> message

    @classmethod
    def from_form(cls, kind: str, target: str, keys: list[str]) -> Draft:
        """Read the draft's fields from the posted form (unknown fields ignored)."""
        form = request.form
        nonce = form.get("nonce", "")
        if len(nonce) != NONCE_BYTES * 2 or not all(c in "0123456789abcdef" for c in nonce):
            nonce = secrets.token_hex(NONCE_BYTES)
        return cls(
            kind=kind,
            target=target,
            phone_raw=form.get("phone", "").strip()[:32],
            values={k: form.get(f"f_{k}", "").strip()[:MAX_TEXT] for k in keys},
            nonce=nonce,
        )

    def purpose(self) -> str:
        """Return the OTP purpose naming this exact draft (32 characters at most)."""
        canonical = json.dumps(
            [self.kind, self.target, self.phone, sorted(self.clean.items()), self.nonce],
            ensure_ascii=False,
        )
        return "counter." + hashlib.sha256(canonical.encode()).hexdigest()[:24]


# --- the catalogue as the counter offers it ------------------------------------------------


def _documents(user: StaffUser) -> list[DocumentType]:
    """Return the documents this agent may file: those of the offices they serve."""
    catalogue = Catalogue.read(_backend())
    allowed = catalogue.allowed_offices(user)
    return [
        d
        for code, d in catalogue.documents.items()
        if allowed is None or catalogue.office_of.get(code) in allowed
    ]


def _form_fields(document: DocumentType, lang: str) -> list[FormField]:
    """Return the document's dossier fields as the USSD form asks them, plus the identity."""
    fields = [
        FormField(
            key=spec.key,
            label=spec.labels.get(lang) or spec.labels.get("fr") or spec.key,
            validator=spec.validator,
            required=spec.required,
            pattern=spec.pattern,
            choices=tuple(
                Option(c.value, c.labels.get(lang) or c.labels.get("fr") or c.value)
                for c in spec.choices
            ),
        )
        for spec in document.fields
    ]
    if document.requires_identity:
        fields = [
            FormField("applicant_name", t("applicant"), "person_name"),
            # The registered id_number check with its default pattern, as the USSD's
            # identity screen takes 4 to 20 letters, digits or dashes.
            FormField("id_number", t("id_number"), "id_number"),
            *fields,
        ]
    return fields


def _check_request(draft: Draft, fields: list[FormField]) -> None:
    """Validate every field with the USSD journey's validators; fill `clean` or `errors`."""
    today = datetime.now(UTC).date()
    for spec in fields:
        raw = draft.values.get(spec.key, "")
        if not raw:
            if spec.required:
                draft.errors[spec.key] = t("counter_required")
            continue
        check = field_check(spec, today)
        value = check(raw) if check is not None else None
        if value is None:
            draft.errors[spec.key] = t("counter_invalid")
        else:
            draft.clean[spec.key] = value


def _check_phone(draft: Draft) -> None:
    draft.phone = phone_e164(draft.phone_raw)
    if draft.phone is None:
        draft.errors["phone"] = t("counter_bad_phone")


# --- the start page ------------------------------------------------------------------------


@blueprint.get("/counter")
@requires(Role.AGENT)
def counter() -> ResponseReturnValue:
    """Offer what the counter can do for a citizen: a request, or an appointment."""
    user = staff()
    assert user is not None
    done = request.args.get("done", "")
    code = request.args.get("code", "")
    notice = ""
    if done in KINDS and references.validate(code):
        notice = t(f"counter_done_{done}", code=code, sms=request.args.get("sms", "-")[:20])
    return page(
        "console/counter.html",
        documents=_documents(user),
        services=_backend().list_appointment_services(),
        notice=notice,
    )


# --- a request filed for the citizen -------------------------------------------------------


def _document_for(user: StaffUser, code: str) -> DocumentType | None:
    return next((d for d in _documents(user) if d.code == code), None)


@blueprint.get("/counter/request")
@requires(Role.AGENT)
def counter_request() -> ResponseReturnValue:
    """Show the form of one document's request (the citizen's phone and dossier)."""
    user = staff()
    assert user is not None
    document = _document_for(user, request.args.get("document", ""))
    if document is None:
        return refusal("counter_no_document", 404)
    draft = Draft("request", document.code, "", {}, secrets.token_hex(NONCE_BYTES))
    return _request_form(document, draft)


def _request_form(
    document: DocumentType,
    draft: Draft,
    http_status: int = 200,
    *,
    step: str = "fill",
    error: str = "",
) -> ResponseReturnValue:
    return page(
        "console/counter_request.html",
        http_status,
        document=document,
        fields=_form_fields(document, lang()),
        draft=draft,
        step=step,
        error=error,
        masked=mask_phone(draft.phone) if draft.phone else "",
    )


@blueprint.post("/counter/request")
@requires(Role.AGENT)
def counter_request_post() -> ResponseReturnValue:
    """Step `code`: check the form and send the citizen a code; step `confirm`: file it."""
    user = staff()
    assert user is not None
    document = _document_for(user, request.form.get("document", ""))
    if document is None:
        return refusal("counter_no_document", 404)
    fields = _form_fields(document, lang())
    draft = Draft.from_form("request", document.code, [f.key for f in fields])
    _check_phone(draft)
    _check_request(draft, fields)
    if draft.errors:
        return _request_form(document, draft, 400, error=t("counter_fix_fields"))
    assert draft.phone is not None
    if request.form.get("step") != "confirm":
        return _send_code(
            draft,
            lambda error, status: _request_form(
                document, draft, status, step="fill" if error else "code", error=error
            ),
        )
    if not _code_ok(draft):
        return _request_form(document, draft, 400, step="code", error=t("counter_wrong_code"))
    return _file_request(document, draft)


def _file_request(document: DocumentType, draft: Draft) -> ResponseReturnValue:
    assert draft.phone is not None
    backend = _backend()
    name = draft.clean.pop("applicant_name", None)
    id_number = draft.clean.pop("id_number", None)
    try:
        created = backend.create_request(
            owner_phone=draft.phone,
            document_code=document.code,
            # The draft's digest: a double-clicked confirm files one request.
            idempotency_key=f"counter:{draft.purpose()}",
            applicant_name=name,
            id_number=id_number,
            dossier=draft.clean,
            # The citizen pays a fee at the counter (or the agent waives it): submitted now.
            collect_fee=False,
            announce=True,
        )
    except (DossierError, IdentityRequiredError, UnknownDocumentTypeError) as error:
        log.warning("counter: request refused by the back office: %s", type(error).__name__)
        return refusal("counter_refused", 409)
    if name and id_number and backend.get_citizen(draft.phone) is None:
        backend.save_citizen(Citizen(draft.phone, name, id_number, lang()))
    sms = _request_alert(created)
    audit(
        "counter.request_filed",
        target=created.reference,
        detail=f"document={document.code} phone={mask_phone(draft.phone)} sms={sms}",
    )
    return redirect(url_for("console.counter", done="request", code=created.reference, sms=sms))


def _request_alert(created: DocumentRequest) -> str:
    # The same alert as a dialled request's; an SMS problem must not undo the filing.
    try:
        return request_alerts.alert(services_of(current_app), created)
    except Exception:
        log.exception("counter: the request's SMS alert could not be queued")
        return "failed"


# --- the consent code, shared by both kinds -------------------------------------------------

Render = Callable[[str, int], ResponseReturnValue]


def _send_code(draft: Draft, render: Render) -> ResponseReturnValue:
    """Send the citizen a code for this draft; render the code step (or why not)."""
    assert draft.phone is not None
    try:
        issued = _otp().issue(draft.phone, draft.purpose(), template=COUNTER_TEMPLATE)
    except redis.RedisError:
        return refusal("unavailable", 503)
    target = mask_phone(draft.phone)
    if issued.refused:
        audit(
            "counter.code_refused",
            target=target,
            detail=f"{draft.kind} {draft.target}: {issued.refused}",
        )
        return render(t("counter_phone_refused"), 400)
    if not issued.sent:
        return render(t("counter_wait", seconds=issued.retry_after), 429)
    audit("counter.code_sent", target=target, detail=f"{draft.kind} {draft.target}")
    return render("", 200)


def _code_ok(draft: Draft) -> bool:
    """Check the code the citizen read out (5 tries, once); audit a wrong one."""
    assert draft.phone is not None
    code = request.form.get("code", "").strip()[:16]
    valid = bool(code) and _otp().verify(draft.phone, draft.purpose(), code)
    if not valid:
        audit(
            "counter.code_wrong",
            target=mask_phone(draft.phone),
            detail=f"{draft.kind} {draft.target}",
        )
    return valid


# --- an appointment booked for the citizen -------------------------------------------------


def _slots(service: AppointmentService) -> list[tuple[date, list[tuple[str, str]]]]:
    """Return the bookable days and their free slots: (day, [(value, label)])."""
    days = service.bookable_days(datetime.now(UTC))
    if not days:
        return []
    taken = _backend().taken_places(service.code, days[0], days[-1])
    found = []
    for day in days:
        slots = [
            (f"{day.isoformat()}@{s.minute}", f"{clock_text(s.minute)} ({s.free})")
            for s in free_slots(service, day, taken.get(day, {}))
        ]
        if slots:
            found.append((day, slots))
    return found


def _parse_slot(raw: str) -> tuple[date, int] | None:
    day_text, _, minute_text = raw.partition("@")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        return None
    if not minute_text.isdigit() or int(minute_text) >= 24 * 60:
        return None
    return day, int(minute_text)


def _service(code: str) -> AppointmentService | None:
    return _backend().get_appointment_service(code) if code else None


def _appointment_form(
    service: AppointmentService,
    draft: Draft,
    http_status: int = 200,
    *,
    step: str = "fill",
    error: str = "",
) -> ResponseReturnValue:
    slot = _parse_slot(draft.clean.get("slot", "")) if draft.clean.get("slot") else None
    return page(
        "console/counter_appointment.html",
        http_status,
        service=service,
        days=_slots(service) if step == "fill" else [],
        draft=draft,
        step=step,
        error=error,
        masked=mask_phone(draft.phone) if draft.phone else "",
        chosen=f"{slot[0]:%d/%m/%Y} {clock_text(slot[1])}" if slot else "",
    )


@blueprint.get("/counter/appointment")
@requires(Role.AGENT)
def counter_appointment() -> ResponseReturnValue:
    """Show a service's free slots and the citizen's phone."""
    service = _service(request.args.get("service", "")[:64])
    if service is None:
        return refusal("not_found", 404)
    draft = Draft("appointment", service.code, "", {}, secrets.token_hex(NONCE_BYTES))
    return _appointment_form(service, draft)


@blueprint.post("/counter/appointment")
@requires(Role.AGENT)
def counter_appointment_post() -> ResponseReturnValue:
    """Step `code`: send the citizen a code for this slot; step `confirm`: book it."""
    service = _service(request.form.get("service", "")[:64])
    if service is None:
        return refusal("not_found", 404)
    draft = Draft.from_form("appointment", service.code, ["slot"])
    _check_phone(draft)
    slot = _parse_slot(draft.values.get("slot", ""))
    if slot is None or not service.offers(slot[0], slot[1], datetime.now(UTC)):
        draft.errors["slot"] = t("counter_pick_slot")
    else:
        draft.clean["slot"] = f"{slot[0].isoformat()}@{slot[1]}"
    if draft.errors:
        return _appointment_form(service, draft, 400, error=t("counter_fix_fields"))
    assert draft.phone is not None and slot is not None
    if request.form.get("step") != "confirm":
        return _send_code(
            draft,
            lambda error, status: _appointment_form(
                service, draft, status, step="fill" if error else "code", error=error
            ),
        )
    if not _code_ok(draft):
        return _appointment_form(service, draft, 400, step="code", error=t("counter_wrong_code"))
    try:
        booking = _backend().book_appointment(
            service_code=service.code,
            day=slot[0],
            minute=slot[1],
            phone=draft.phone,
            idempotency_key=f"counter:{draft.purpose()}",
        )
    except SlotFullError:
        return _appointment_form(service, draft, 409, error=t("counter_slot_full"))
    except (SlotNotOfferedError, BookingClosedError, UnknownServiceError):
        return _appointment_form(service, draft, 409, error=t("counter_pick_slot"))
    sms = _booking_alert(booking)
    audit(
        "counter.appointment_booked",
        target=booking.code,
        detail=(
            f"service={service.code} {slot[0].isoformat()} {clock_text(slot[1])} "
            f"phone={mask_phone(draft.phone)} sms={sms}"
        ),
    )
    return redirect(url_for("console.counter", done="appointment", code=booking.code, sms=sms))


def _booking_alert(booking: Booking) -> str:
    # The dialled booking's confirmation (its reminder follows from the sweep, as for any).
    try:
        return appointment_alerts.announce(services_of(current_app), booking, "booked")
    except Exception:
        log.exception("counter: the booking's SMS could not be queued")
        return "failed"
