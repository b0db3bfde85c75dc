"""Agents' pages on requests: the queue, the dossier, the decision.

The rules are the back office's (civic.ports.Backend.decide, the kind's workflow): this module
parses a form, calls the same domain methods as the agents' API (gateway/api_requests.py),
answers 409 on the same refusals (illegal transition, fee unpaid) and queues the same SMS
alert. An agent only reaches the requests of the offices they serve (gateway/scoping.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from flask import Response, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue

from civic import references, workflow
from civic.ports import (
    Backend,
    BackendUnavailableError,
    Decision,
    DocumentRequest,
    DocumentType,
    FeeStatus,
    FeeUnpaidError,
    IllegalTransitionError,
    InvalidDecisionError,
    Office,
    RequestStatus,
    UnknownRequestError,
)
from gateway import scoping
from gateway.console.accounts import Role, StaffUser
from gateway.console.web import audit, blueprint, nav, page, refusal, requires, staff, t
from gateway.services import services_of
from runtime.masking import mask_phone
from sms import request_alerts

log = logging.getLogger(__name__)

PER_PAGE: Final = 50
AGES: Final = (1, 3, 7, 14, 30)  # "filed more than N days ago" choices
MAX_TEXT: Final = 500  # form fields longer than this are cut before the domain checks them

nav("console.queue", "nav_queue", Role.AGENT, order=10)


def _backend() -> Backend:
    return services_of(current_app).get(Backend)  # type: ignore[type-abstract]


@blueprint.errorhandler(BackendUnavailableError)
def _unavailable(_error: BackendUnavailableError) -> ResponseReturnValue:
    log.warning("console: back office unavailable: %s", _error)
    return refusal("unavailable", 503)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The documents and offices, and which office handles each document."""

    documents: dict[str, DocumentType]
    offices: dict[str, Office]
    office_of: dict[str, str | None]

    @classmethod
    def read(cls, backend: Backend) -> Catalogue:
        """Read the catalogue from the back office."""
        offices = backend.list_offices()
        documents = {d.code: d for d in backend.list_document_types()}
        return cls(
            documents=documents,
            offices={o.id: o for o in offices},
            office_of={code: scoping.office_of(d, offices) for code, d in documents.items()},
        )

    def allowed_offices(self, user: StaffUser) -> frozenset[str] | None:
        """Return the offices `user` may see, None for all."""
        return None if user.all_offices else user.offices


@dataclass(frozen=True, slots=True)
class Filters:
    """The queue's filters as the form sent them (unknown values ignored)."""

    status: RequestStatus | None
    document: str
    office: str
    age_days: int
    unpaid: bool
    page: int

    @classmethod
    def parse(cls, catalogue: Catalogue) -> Filters:
        """Read the filters from the query string."""
        args = request.args
        raw_status = args.get("status", "")
        status = RequestStatus(raw_status) if raw_status in set(RequestStatus) else None
        document = args.get("document", "")
        office = args.get("office", "")
        age = args.get("age", "")
        page_arg = args.get("page", "1")
        return cls(
            status=status,
            document=document if document in catalogue.documents else "",
            office=office if office in catalogue.offices else "",
            age_days=int(age) if age.isdigit() and int(age) in AGES else 0,
            unpaid=args.get("unpaid") == "1",
            page=min(int(page_arg), 1000) if page_arg.isdigit() and int(page_arg) > 0 else 1,
        )


@blueprint.get("/requests")
@requires(Role.AGENT)
def queue() -> ResponseReturnValue:
    """List the requests of the person's offices, filtered, newest first."""
    user = staff()
    assert user is not None
    backend = _backend()
    catalogue = Catalogue.read(backend)
    filters = Filters.parse(catalogue)
    allowed = catalogue.allowed_offices(user)

    def keep(item: DocumentRequest) -> bool:
        office = catalogue.office_of.get(item.document_code)
        return (
            scoping.may_see(item, allowed, catalogue.office_of)
            and (not filters.document or item.document_code == filters.document)
            and (not filters.office or office == filters.office)
            and (not filters.unpaid or item.fee_status == FeeStatus.DUE)
        )

    now = datetime.now(UTC)
    before = now - timedelta(days=filters.age_days) if filters.age_days else None
    found = scoping.scan(
        backend,
        status=filters.status,
        keep=keep,
        limit=PER_PAGE + 1,
        offset=(filters.page - 1) * PER_PAGE,
        created_before=before,
    )
    rows = [
        {
            "item": item,
            "document": catalogue.documents.get(item.document_code),
            "office": catalogue.offices.get(catalogue.office_of.get(item.document_code) or ""),
            "days": (now - item.created_at).days,
        }
        for item in found[:PER_PAGE]
    ]
    served = sorted(user.offices) if not user.all_offices else []
    return page(
        "console/queue.html",
        rows=rows,
        filters=filters,
        catalogue=catalogue,
        statuses=list(RequestStatus),
        ages=AGES,
        has_more=len(found) > PER_PAGE,
        served=served,
    )


def _visible(ref: str) -> tuple[DocumentRequest, Catalogue] | Response:
    """Return the request and catalogue, or the refusal page (bad ref, unknown, other office)."""
    user = staff()
    assert user is not None
    if not references.validate(ref):
        return refusal("not_found", 404)
    backend = _backend()
    item = backend.get_request(ref)
    if item is None:
        return refusal("not_found", 404)
    catalogue = Catalogue.read(backend)
    if not scoping.may_see(item, catalogue.allowed_offices(user), catalogue.office_of):
        audit("request.denied", target=ref, detail="another office")
        return refusal("other_office", 403)
    return item, catalogue


def _dossier(
    item: DocumentRequest,
    catalogue: Catalogue,
    http_status: int = 200,
    *,
    notice: str = "",
    error: str = "",
) -> ResponseReturnValue:
    document = catalogue.documents.get(item.document_code)
    table = workflow.table_of(document)
    allowed = workflow.allowed_decisions(item.status, item.fee_status, table)
    return page(
        "console/dossier.html",
        http_status,
        item=item,
        document=document,
        office=catalogue.offices.get(catalogue.office_of.get(item.document_code) or ""),
        offices=list(catalogue.offices.values()),
        phone=mask_phone(item.owner_phone),
        allowed=allowed,
        reasons=document.reasons if document is not None else (),
        notice=notice,
        error=error,
    )


@blueprint.get("/requests/<ref>")
@requires(Role.AGENT)
def dossier(ref: str) -> ResponseReturnValue:
    """Show a request's dossier, fee and history, and the decisions it allows."""
    found = _visible(ref)
    if isinstance(found, Response):
        return found
    item, catalogue = found
    audit("request.view", target=ref)  # the whole dossier (ID number) was shown
    done = request.args.get("done", "")
    alert = request.args.get("alert", "")
    notice = (
        t("decided", decision=t(f"decision_{done}"), alert=alert) if done in set(Decision) else ""
    )
    return _dossier(item, catalogue, notice=notice)


def _field(name: str) -> str | None:
    value = request.form.get(name, "").strip()[:MAX_TEXT]
    return value or None


@blueprint.post("/requests/<ref>/decision")
@requires(Role.AGENT)
def decide(ref: str) -> ResponseReturnValue:
    """Apply the decision through the back office, then queue the citizen's SMS alert."""
    user = staff()
    assert user is not None
    found = _visible(ref)
    if isinstance(found, Response):
        return found
    item, catalogue = found
    raw = request.form.get("decision", "")
    if raw not in set(Decision):
        return _dossier(item, catalogue, 400, error=t("decision_refused", message=raw or "-"))
    decision = Decision(raw)
    backend = _backend()
    try:
        updated = backend.decide(
            ref,
            decision,
            agent_id=user.email,
            reason=_field("reason"),
            pickup=_field("pickup"),
            reason_code=_field("reason_code"),
            office_id=_field("office"),
            announce=True,  # the alert below is owed until SmsService accepts it
        )
    except UnknownRequestError:
        return refusal("not_found", 404)
    except FeeUnpaidError:
        audit("request.decide.refused", target=ref, detail=f"{decision.value}: fee_unpaid")
        return _dossier(_reread(backend, item), catalogue, 409, error=t("fee_unpaid"))
    except IllegalTransitionError as error:
        audit("request.decide.refused", target=ref, detail=f"{decision.value}: {error}")
        current = t(f"status_{error.current.value}")
        return _dossier(
            _reread(backend, item), catalogue, 409, error=t("illegal_transition", status=current)
        )
    except InvalidDecisionError as error:
        return _dossier(
            item, catalogue, 400, error=t("decision_refused", message=f"{error.field}: {error}")
        )
    detail = " ".join(
        f"{name}={value}"
        for name, value in (
            ("decision", decision.value),
            ("reason_code", _field("reason_code")),
            ("office", _field("office")),
            ("reason", _field("reason")),
        )
        if value
    )
    audit("request.decide", target=ref, detail=detail)
    alert = _alert(updated)
    return redirect(url_for("console.dossier", ref=ref, done=decision.value, alert=alert))


def _reread(backend: Backend, item: DocumentRequest) -> DocumentRequest:
    return backend.get_request(item.reference) or item


def _alert(updated: DocumentRequest) -> str:
    # Recorded; an SMS problem must not turn the decision into an error (as in the API).
    try:
        return request_alerts.alert(services_of(current_app), updated)
    except Exception:
        log.exception("request %s: the SMS alert could not be queued", updated.reference)
        return "failed"
