"""The civic journeys' actions: taxes, document requests, tracking, procedure guide.

They read and write the domain through civic.ports.Backend and leave citizen-facing words to
menus.yaml: actions only return domain data (names already in the caller's language, numbers,
dates) for placeholders, and outcomes the YAML maps to screens. A back-office failure raises
out of the action, which the engine turns into the screen's `error` outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from civic import references
from civic.ports import (
    Backend,
    BackendUnavailableError,
    Citizen,
    DocumentType,
    DossierError,
    IdentityRequiredError,
    RequestStatus,
    UnknownDocumentTypeError,
)
from civic.privacy import visible_request
from civic.wording import document_name, local, pickup_text, reason_text
from civic.workflows import DOCUMENT_KIND
from menus.model import MenuSpec
from menus.registry import ActionContext, ActionResult, Effect, FormField, Option, actions
from runtime.guesses import GuessLimiter
from sms.queues import SMS_QUEUE
from sms.request_alerts import send_request_alert

MY_REQUESTS_LIMIT: Final = 30  # the engine pages the list; older ones are for the counter
NAME_LABEL_MAX: Final = 30
STATUS_LABEL_MAX: Final = 12  # menus.yaml messages status_<status> (lint checks the screen)
REQUEST_LABEL_MAX: Final = 8 + 1 + STATUS_LABEL_MAX + 2 + 16  # "10000057 prêt: Extrait d'acte"
# Outcome per status: menus.yaml has one screen for each, with its own words.
STATUS_OUTCOMES: Final = {
    RequestStatus.SUBMITTED: "submitted",
    RequestStatus.IN_REVIEW: "in_review",
    RequestStatus.NEEDS_VISIT: "needs_visit",
    RequestStatus.APPROVED: "approved",
    RequestStatus.READY_FOR_PICKUP: "ready",
    RequestStatus.DELIVERED: "delivered",
    RequestStatus.REJECTED: "rejected",
    RequestStatus.AWAITING_PAYMENT: "awaiting_payment",
    RequestStatus.EXPIRED: "expired",
    RequestStatus.APPOINTMENT_NEEDED: "appointment_needed",
}
FIELD_LABEL_MAX: Final = 40  # the catalogue's field labels (a test checks the demo city's)
SUMMARY_MAX: Final = 100  # menus.yaml placeholder dossier_summary
SKIPPED: Final = "-"  # an optional field left blank, in the summary
# The value of the documents' list's last line; no catalogue code starts with "*".
MORE_KINDS: Final = "*kinds"


def _backend(ctx: ActionContext) -> Backend:
    return ctx.services.get(Backend)  # type: ignore[type-abstract]


def _local(texts: Mapping[str, str], lang: str) -> str:
    """Return the text in `lang`, else French (the city's default), else any."""
    return local(texts, lang)


def money(ctx: ActionContext, amount: int) -> str:
    """Format an amount as the city writes it, without the symbol: 120 000, 12,50."""
    return ctx.services.get(MenuSpec).city.money_format.number(amount)


def _document(ctx: ActionContext) -> DocumentType:
    code = str(ctx.data.get("doc_code", ""))
    document = _backend(ctx).get_document_type(code) if code else None
    if document is None:
        # The menu offered it a moment ago: the catalogue changed under us.
        raise BackendUnavailableError(f"document type {code!r} vanished")
    return document


def _document_data(ctx: ActionContext, document: DocumentType) -> dict[str, str | int]:
    lang = ctx.lang
    spec = ctx.services.get(MenuSpec)
    # menus.yaml words the visit; screens show it after the office or the fee ("" otherwise).
    visit = spec.message("doc_visit_note", lang) if document.needs_visit else ""
    return {
        "visit_note": visit,
        "doc_name": _local(document.names, lang),
        "fee": money(ctx, document.fee),
        "delay_days": document.delay_days,
        "office": _local(document.office, lang),
        "required": ", ".join(
            document.required_documents.get(lang) or document.required_documents.get("fr", ())
        ),
    }


# --- taxes -----------------------------------------------------------------------------------


@actions.register("civic.taxes", option_label_max=NAME_LABEL_MAX)
def taxes(ctx: ActionContext) -> ActionResult:
    """Offer the city's taxes."""
    return ActionResult(
        options=[Option(t.code, _local(t.names, ctx.lang)) for t in _backend(ctx).list_tax_types()]
    )


@actions.register("civic.tax_lookup", outcomes={"due", "paid", "not_found", "error"})
def tax_lookup(ctx: ActionContext) -> ActionResult:
    """Find the assessment of the chosen tax and typed reference."""
    backend = _backend(ctx)
    tax_code, ref = str(ctx.data.get("tax_code", "")), str(ctx.data.get("ref", ""))
    tax_name = next(
        (_local(t.names, ctx.lang) for t in backend.list_tax_types() if t.code == tax_code), ""
    )
    found = backend.find_assessment(tax_code, ref)
    if found is None:
        return ActionResult(outcome="not_found", data={"tax_name": tax_name})
    data = {
        # Left for the payments journey (docs/contracts.md, "Journeys' boundaries").
        "assessment_id": found.id,
        "amount": found.amount,
        "currency": found.currency,
        "tax_name": tax_name,
        # For the screens.
        "amount_text": money(ctx, found.amount),
        "period": found.period,
        "due_date": found.due_date.strftime("%d/%m/%Y"),
    }
    return ActionResult(outcome="paid" if found.paid else "due", data=data)


# --- documents -------------------------------------------------------------------------------


@actions.register("civic.documents", option_label_max=NAME_LABEL_MAX)
def documents(ctx: ActionContext) -> ActionResult:
    """Offer the documents citizens can request (catalogue entries of kind document)."""
    docs = _backend(ctx).list_document_types()
    return ActionResult(
        options=[Option(d.code, _local(d.names, ctx.lang)) for d in docs if d.kind == DOCUMENT_KIND]
    )


@actions.register("civic.document_menu", option_label_max=NAME_LABEL_MAX)
def document_menu(ctx: ActionContext) -> ActionResult:
    """Offer the documents, then "Register / file a dossier" when the city has other kinds."""
    docs = _backend(ctx).list_document_types()
    options = [Option(d.code, _local(d.names, ctx.lang)) for d in docs if d.kind == DOCUMENT_KIND]
    if any(d.kind != DOCUMENT_KIND for d in docs):
        label = ctx.services.get(MenuSpec).message("doc_more_kinds", ctx.lang)
        options.append(Option(MORE_KINDS, label))
    return ActionResult(options=options)


@actions.register("civic.document_route", outcomes={"document", "kinds", "error"})
def document_route(ctx: ActionContext) -> ActionResult:
    """Go on with the chosen document, or to the list of registrations and dossiers."""
    return ActionResult(outcome="kinds" if ctx.data.get("doc_code") == MORE_KINDS else "document")


@actions.register("civic.registrations", option_label_max=NAME_LABEL_MAX)
def registrations(ctx: ActionContext) -> ActionResult:
    """Offer the registrations and dossiers (every other kind: registration, correction...)."""
    docs = _backend(ctx).list_document_types()
    return ActionResult(
        options=[Option(d.code, _local(d.names, ctx.lang)) for d in docs if d.kind != DOCUMENT_KIND]
    )


@actions.register("civic.document_info", outcomes={"ok", "error"})
def document_info(ctx: ActionContext) -> ActionResult:
    """Load the chosen document's procedure guide for the screens."""
    return ActionResult(data=_document_data(ctx, _document(ctx)))


@actions.register("civic.document_counter", outcomes={"counter", "none", "error"})
def document_counter(ctx: ActionContext) -> ActionResult:
    """Announce what cannot be typed on a phone and must be brought to the counter."""
    items = _document(ctx).at_counter
    found = items.get(ctx.lang) or items.get("fr") or ()
    if not found:
        return ActionResult(outcome="none")
    return ActionResult(outcome="counter", data={"counter": ", ".join(found)})


@actions.register("civic.document_fields", option_label_max=FIELD_LABEL_MAX)
def document_fields(ctx: ActionContext) -> ActionResult:
    """Return the chosen document's dossier fields in the caller's language (a form walks them)."""
    return ActionResult(
        fields=[
            FormField(
                key=spec.key,
                label=_local(spec.labels, ctx.lang),
                validator=spec.validator,
                required=spec.required,
                pattern=spec.pattern,
                choices=tuple(Option(c.value, _local(c.labels, ctx.lang)) for c in spec.choices),
            )
            for spec in _document(ctx).fields
        ]
    )


@actions.register("civic.dossier_summary", outcomes={"ok", "error"})
def dossier_summary(ctx: ActionContext) -> ActionResult:
    """Put the typed dossier in field order on one line for the summary screen."""
    answers = ctx.data.get("dossier") or {}
    values: list[str] = []
    for spec in _document(ctx).fields:
        value = str(answers.get(spec.key) or SKIPPED)
        choice = next((c for c in spec.choices if c.value == value), None)
        values.append(_local(choice.labels, ctx.lang) if choice else value)
    summary = ", ".join(values)
    if len(summary) > SUMMARY_MAX:
        summary = summary[: SUMMARY_MAX - 3].rstrip() + "..."
    return ActionResult(data={"dossier_summary": summary})


@actions.register("civic.document_fee", outcomes={"fee", "free", "error"})
def document_fee(ctx: ActionContext) -> ActionResult:
    """Tell whether the chosen document has a fee to pay by mobile money."""
    return ActionResult(outcome="fee" if _document(ctx).fee > 0 else "free")


@actions.register("civic.document_identity", outcomes={"ask", "skip", "error"})
def document_identity(ctx: ActionContext) -> ActionResult:
    """Decide whether to ask for name and ID number (needed and not already known)."""
    if not _document(ctx).requires_identity:
        return ActionResult(outcome="skip", data={"applicant_name": None, "id_number": None})
    known = _backend(ctx).get_citizen(ctx.msisdn)
    if known is not None and known.name and known.id_number:
        return ActionResult(
            outcome="skip", data={"applicant_name": known.name, "id_number": known.id_number}
        )
    return ActionResult(outcome="ask")


@actions.register(
    "civic.document_create", outcomes={"created", "payable", "identity", "dossier", "error"}
)
def document_create(ctx: ActionContext) -> ActionResult:
    """Create the request with its dossier (once per session and document).

    A request with a fee waits for it (`payable`: the payment journey follows); a free one is
    submitted and its SMS follows as a job. `args: {fee: counter}` (a city without mobile
    money) submits it too: the fee is paid at the counter.
    """
    backend = _backend(ctx)
    code = str(ctx.data.get("doc_code", ""))
    name = ctx.data.get("applicant_name")
    id_number = ctx.data.get("id_number")
    dossier = ctx.data.get("dossier") or {}
    try:
        created = backend.create_request(
            owner_phone=ctx.msisdn,
            document_code=code,
            # A retried or double-tapped confirm must not file two requests.
            idempotency_key=f"ussd:{ctx.session_id}:{code}",
            applicant_name=str(name) if name else None,
            id_number=str(id_number) if id_number else None,
            dossier={str(k): str(v) for k, v in dict(dossier).items()},
            collect_fee=ctx.args.get("fee") != "counter",
            # The SMS alert is owed from this transaction on: a job lost with Redis is
            # replaced by the owed-alerts tick (sms.request_alerts).
            announce=True,
        )
    except IdentityRequiredError:
        return ActionResult(outcome="identity")
    except DossierError:
        return ActionResult(outcome="dossier")  # the catalogue changed: ask the fields again
    except UnknownDocumentTypeError as error:
        raise BackendUnavailableError(f"document type {code!r} vanished") from error
    if name and id_number:
        known = backend.get_citizen(ctx.msisdn)
        if known is None or not (known.name and known.id_number):
            backend.save_citizen(Citizen(ctx.msisdn, str(name), str(id_number), ctx.lang))
    if created.status is RequestStatus.AWAITING_PAYMENT:
        return ActionResult(outcome="payable", data={"req_ref": created.reference})
    seq = len(created.history)
    alert = Effect(
        queue=SMS_QUEUE,
        func=send_request_alert,
        args=(created.reference, seq),
        job_id=f"request-alert-{created.reference}-{seq}",
    )
    return ActionResult(outcome="created", data={"req_ref": created.reference}, effects=[alert])


# --- tracking --------------------------------------------------------------------------------


def _label(reference: str, status: str, name: str) -> str:
    """Return `ref status: name`, the name cut to fit REQUEST_LABEL_MAX."""
    head = f"{reference} {status[:STATUS_LABEL_MAX]}: "
    room = REQUEST_LABEL_MAX - len(head)
    return head + (name if len(name) <= room else name[: room - 1].rstrip() + ".")


@actions.register("civic.my_requests", option_label_max=REQUEST_LABEL_MAX)
def my_requests(ctx: ActionContext) -> ActionResult:
    """Offer this phone's requests, newest first, each with a short status."""
    backend = _backend(ctx)
    spec = ctx.services.get(MenuSpec)
    names = {d.code: _local(d.names, ctx.lang) for d in backend.list_document_types()}
    mine = backend.list_requests(owner_phone=ctx.msisdn, limit=MY_REQUESTS_LIMIT)
    return ActionResult(
        options=[
            Option(
                r.reference,
                _label(
                    r.reference,
                    spec.message(f"status_{r.status.value}", ctx.lang),
                    names.get(r.document_code, r.document_code),
                ),
            )
            for r in mine
        ]
    )


@actions.register(
    "civic.track",
    outcomes={
        *STATUS_OUTCOMES.values(),
        "appointment_at_office",
        "mistyped",
        "not_found",
        "limited",
        "error",
    },
)
def track(ctx: ActionContext) -> ActionResult:
    """Show a request to the phone that filed it; any other phone sees an unknown reference."""
    ref = str(ctx.data.get("track_ref", "")).strip()
    if not references.validate(ref):
        return ActionResult(outcome="mistyped")
    backend = _backend(ctx)
    found = visible_request(backend, ref, ctx.msisdn)
    if found is None:
        # Unknown and someone else's are one path: a guess, charged to this phone.
        limiter = ctx.services.find(GuessLimiter)
        if limiter is not None and not limiter.guess(ctx.msisdn).allowed:
            return ActionResult(outcome="limited")
        return ActionResult(outcome="not_found")
    document = backend.get_document_type(found.document_code)
    office = backend.get_office(found.office_id) if found.office_id else None
    data: dict[str, str | None] = {
        "doc_name": document_name(document, found.document_code, ctx.lang),
        "reason": reason_text(found, document, ctx.lang),
        "pickup": pickup_text(office, found.pickup, ctx.lang),
        "office": _local(document.office, ctx.lang) if document else "",
    }
    if found.status is RequestStatus.AWAITING_PAYMENT:
        # For the fee payment journey (payments.fee_start reads req_ref).
        data.update(req_ref=found.reference, fee=money(ctx, found.fee))
    outcome = STATUS_OUTCOMES[found.status]
    if found.status is RequestStatus.APPOINTMENT_NEEDED:
        # Booked by USSD at the document's service (appointments.start_for_request reads it).
        service = document.appointment_service if document else None
        data["track_appt_service"] = service
        outcome = outcome if service else "appointment_at_office"
    return ActionResult(outcome=outcome, data=data)
