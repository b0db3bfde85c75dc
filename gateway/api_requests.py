"""Agents' JSON API on document requests (docs/openapi/agents.yaml).

    GET  /api/v1/requests?status=&page=&per_page=
    GET  /api/v1/requests/<ref>
    POST /api/v1/requests/<ref>/decision  {"decision": "...", "reason_code": "...", "reason": "...",
                                           "office": "...", "pickup": "..."}
    GET  /api/v1/offices

A request follows its kind's workflow (a document delivery's, or the catalogue's `workflows:`
for registrations, dossiers, declarations, corrections); `kind` and `allowed_decisions` say
where it stands. A reject, needs_visit or appointment_needed names one of the document's
reason codes, a ready names an office:
the citizen reads their texts in their own language; `reason` and `pickup` are optional free
text appended to them.

A request carries its dossier and its fee (`fee.status`: none, due, paid, waived). Ready and
delivered answer 409 `fee_unpaid` while the fee is due; `{"decision": "waive_fee", "reason":
"..."}` records a waiver in the history (and releases a request awaiting payment).

Handlers parse, call the civic Backend, render; the citizen's SMS alert follows each decision.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from flask import Blueprint, Response, current_app, g, jsonify, request

import runtime
from civic import codec, references, workflow
from civic.cipher import mask_value, sealed_fields
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
    RequestStatus,
    UnknownRequestError,
)
from civic.workflows import DOCUMENT_KIND
from gateway import scoping
from gateway.auth import ApiKey, require_api_key
from sms import request_alerts

log = logging.getLogger(__name__)

blueprint = Blueprint("api_requests", __name__, url_prefix="/api/v1/requests")
offices_blueprint = Blueprint("api_offices", __name__, url_prefix="/api/v1/offices")

DEFAULT_PER_PAGE: Final = 20
LINKED_ACT_FIELD: Final = "act_reference"  # the dossier field linking a correction to its act
MAX_PER_PAGE: Final = 100


def _services() -> runtime.Container:
    services: runtime.Container = current_app.extensions["guichet"]
    return services


def _backend() -> Backend:
    return _services().get(Backend)  # type: ignore[type-abstract]


def _error(http_status: int, error: str, message: str, **extra: Any) -> Response:
    response = jsonify(error=error, message=message, **extra)
    response.status_code = http_status
    return response


def _invalid(errors: dict[str, str]) -> Response:
    return _error(400, "invalid_request", "some fields are invalid", errors=errors)


def _documents() -> dict[str, DocumentType]:
    return {d.code: d for d in _backend().list_document_types()}


def _render(
    item: DocumentRequest, documents: dict[str, DocumentType], *, whole: bool = True
) -> dict[str, Any]:
    body = codec.request_to_json(item)
    if not whole:
        # A list is read over shoulders and copied around: ID numbers and dates of birth are
        # masked there, whole only in the one request's view (the agent opened that dossier).
        sealed = sealed_fields(documents.get(item.document_code))
        body["id_number"] = mask_value(item.id_number)
        body["dossier"] = {
            k: (mask_value(v) or "") if k in sealed else v for k, v in item.dossier.items()
        }
    document = documents.get(item.document_code)
    # The kind's workflow (the catalogue's `workflows:`) says what may come next.
    body["kind"] = document.kind if document is not None else DOCUMENT_KIND
    body["allowed_decisions"] = [
        d.value
        for d in workflow.allowed_decisions(
            item.status, item.fee_status, workflow.table_of(document)
        )
    ]
    # A correction names the act it corrects (a dossier field checked by its validator).
    linked = item.dossier.get(LINKED_ACT_FIELD)
    if linked and whole:
        body["linked_act"] = linked
    # What the agent may pick for this request's next reject or needs_visit.
    body["reason_codes"] = [
        {"code": r.code, "decisions": [d.value for d in r.decisions], "texts": dict(r.texts)}
        for r in (document.reasons if document is not None else ())
    ]
    return body


@blueprint.errorhandler(BackendUnavailableError)
def _unavailable(_error_: BackendUnavailableError) -> Response:
    log.warning("agents' API: back office unavailable: %s", _error_)
    response = _error(503, "unavailable", "the back office is unavailable; try again later")
    response.headers["Retry-After"] = "5"
    return response


def _int_arg(name: str, default: int, low: int, high: int, errors: dict[str, str]) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        errors[name] = f"an integer from {low} to {high}"
        return default
    return int(raw)


@blueprint.get("")
@require_api_key("agent")
def list_requests() -> Response:
    """List requests, newest first, one page at a time, optionally by status."""
    errors: dict[str, str] = {}
    page = _int_arg("page", 1, 1, 10_000, errors)
    per_page = _int_arg("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE, errors)
    status: RequestStatus | None = None
    raw_status = request.args.get("status")
    if raw_status is not None:
        try:
            status = RequestStatus(raw_status)
        except ValueError:
            errors["status"] = "one of " + ", ".join(s.value for s in RequestStatus)
    if errors:
        return _invalid(errors)
    # One more than a page tells whether a next page exists without counting everything.
    key: ApiKey = g.api_key
    if key.offices is None:
        found = _backend().list_requests(
            status=status, limit=per_page + 1, offset=(page - 1) * per_page
        )
    else:
        # A key restricted to its offices (API_KEY_OFFICES) lists only their requests.
        by_document = scoping.offices_by_document(_backend())
        found = scoping.scan(
            _backend(),
            status=status,
            keep=lambda item: scoping.may_see(item, key.offices, by_document),
            limit=per_page + 1,
            offset=(page - 1) * per_page,
        )
    documents = _documents()
    return jsonify(
        items=[_render(r, documents, whole=False) for r in found[:per_page]],
        page=page,
        per_page=per_page,
        has_more=len(found) > per_page,
    )


@offices_blueprint.get("")
@require_api_key("agent")
def list_offices() -> Response:
    """List the offices a ready decision may name, with their texts per language."""
    return jsonify(items=[codec.office_to_json(o) for o in _backend().list_offices()])


@blueprint.get("/<ref>")
@require_api_key("agent")
def get_request(ref: str) -> Response:
    """Return one request with its full history."""
    if not references.validate(ref):
        return _invalid({"reference": "not a valid request reference (check digit)"})
    found = _backend().get_request(ref)
    if found is None:
        return _error(404, "not_found", f"no request {ref}")
    if not _serves(found):
        return _other_office()
    return jsonify(_render(found, _documents()))


def _serves(item: DocumentRequest) -> bool:
    """Tell whether the calling key serves the office of `item` (API_KEY_OFFICES)."""
    key: ApiKey = g.api_key
    if key.offices is None:
        return True
    return scoping.may_see(item, key.offices, scoping.offices_by_document(_backend()))


def _other_office() -> Response:
    return _error(403, "forbidden", "this key does not serve the office of this request")


_DECISION_FIELDS: Final = ("decision", "reason", "pickup", "reason_code", "office")


def _parse_decision(body: Any) -> tuple[Decision | None, dict[str, str | None], dict[str, str]]:
    errors: dict[str, str] = {}
    if not isinstance(body, dict):
        return None, {}, {"body": "expected a JSON object"}
    decision: Decision | None = None
    raw = body.get("decision")
    if isinstance(raw, str) and raw in {d.value for d in Decision}:
        decision = Decision(raw)
    else:
        errors["decision"] = "one of " + ", ".join(d.value for d in Decision)
    texts: dict[str, str | None] = {}
    for field, limit in (
        ("reason", workflow.MAX_REASON_LENGTH),
        ("pickup", workflow.MAX_PICKUP_LENGTH),
    ):
        value = body.get(field)
        if value is not None and not isinstance(value, str):
            errors[field] = "a string"
        elif isinstance(value, str) and len(value.strip()) > limit:
            errors[field] = f"at most {limit} characters"
        texts[field] = value if isinstance(value, str) else None
    for field in ("reason_code", "office"):
        value = body.get(field)
        if value is not None and not isinstance(value, str):
            errors[field] = "a string"
        texts[field] = value if isinstance(value, str) else None
    unknown = sorted(set(body) - set(_DECISION_FIELDS))
    for name in unknown:
        errors[name] = "unknown field"
    return decision, texts, errors


@blueprint.post("/<ref>/decision")
@require_api_key("agent")
def decide(ref: str) -> Response:
    """Apply an agent's decision, then queue the citizen's SMS alert."""
    if not references.validate(ref):
        return _invalid({"reference": "not a valid request reference (check digit)"})
    decision, texts, errors = _parse_decision(request.get_json(silent=True))
    if errors or decision is None:
        return _invalid(errors)
    agent_id: str = g.api_key.key_id
    if g.api_key.offices is not None:
        current = _backend().get_request(ref)
        if current is None:
            return _error(404, "not_found", f"no request {ref}")
        if not _serves(current):
            return _other_office()
    try:
        updated = _backend().decide(
            ref,
            decision,
            agent_id=agent_id,
            reason=texts["reason"],
            pickup=texts["pickup"],
            reason_code=texts["reason_code"],
            office_id=texts["office"],
            announce=True,  # the alert below is owed until SmsService accepts it
        )
    except UnknownRequestError:
        return _error(404, "not_found", f"no request {ref}")
    except FeeUnpaidError as error:
        _, table = _fee_and_table(ref)
        return _error(
            409,
            "fee_unpaid",
            str(error),
            status=error.current.value,
            allowed_decisions=[
                d.value for d in workflow.allowed_decisions(error.current, FeeStatus.DUE, table)
            ],
        )
    except IllegalTransitionError as error:
        # What the agent may do instead depends on the fee and the kind: read them back.
        fee, table = _fee_and_table(ref)
        return _error(
            409,
            "illegal_transition",
            str(error),
            status=error.current.value,
            allowed_decisions=[
                d.value for d in workflow.allowed_decisions(error.current, fee, table)
            ],
        )
    except InvalidDecisionError as error:
        return _invalid({error.field: str(error) or "invalid"})
    log.info("request %s: %s by agent %s", ref, decision.value, agent_id)
    body = _render(updated, _documents())
    body["alert"] = _alert(updated)
    return jsonify(body)


def _fee_and_table(ref: str) -> tuple[FeeStatus, workflow.Table]:
    """Return the request's fee status and its kind's workflow (for a 409's alternatives)."""
    backend = _backend()
    now = backend.get_request(ref)
    if now is None:
        return FeeStatus.NONE, workflow.TRANSITIONS
    return now.fee_status, workflow.table_of(backend.get_document_type(now.document_code))


def _alert(updated: DocumentRequest) -> str:
    # The decision is recorded; an SMS problem must not turn it into an error for the agent.
    try:
        return request_alerts.alert(_services(), updated)
    except Exception:
        log.exception("request %s: the SMS alert could not be queued", updated.reference)
        return "failed"
