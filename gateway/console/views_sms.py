"""Supervisors' SMS page: delivery by status and template, refused messages, broadcasts.

The numbers come from the durable message log (sms.message_log, SQL). A broadcast is the
`python -m gateway sms broadcast` of the console: the supervisor pastes or uploads the CSV,
the job runs on the sms queue (gateway.broadcasts) and the page follows it. The progress bar
is a <progress> element the server fills; a small script (static/broadcast.js) polls the JSON
progress endpoint and moves it; without script the page is simply reloaded.
"""

from __future__ import annotations

from typing import Final

from flask import Response, current_app, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue

from gateway import broadcasts
from gateway.console.accounts import Role
from gateway.console.web import audit, blueprint, nav, page, refusal, requires, staff, t
from gateway.services import services_of
from sms.broadcast import rows_from_text
from sms.message_log import MessageLog
from sms.service import SmsService
from sms.store import Status
from sms.templates import NOTICE, Template
from sms.wiring import SmsOptions

MAX_CSV_BYTES: Final = 2 * 1024 * 1024
MAX_ROWS: Final = 50_000
# Statuses a message cannot leave, and the ones that reached the phone.
SETTLED: Final = (Status.DELIVERED, Status.UNDELIVERED, Status.FAILED, Status.REFUSED)
BROADCAST_ID: Final = 17  # "c" + 16 hex digits

nav("console.sms", "nav_sms", Role.SUPERVISOR, order=50)


def _log() -> MessageLog:
    return services_of(current_app).get(MessageLog)


def _desk() -> broadcasts.BroadcastDesk:
    return broadcasts.desk(services_of(current_app))


def _notices() -> list[Template]:
    book = services_of(current_app).get(SmsService).book
    return [tpl for tpl in book.templates.values() if tpl.klass == NOTICE]


def _rate(counts: dict[str, int]) -> str:
    settled = sum(counts.get(s.value, 0) for s in SETTLED)
    if not settled:
        return "—"
    return f"{100 * counts.get(Status.DELIVERED.value, 0) / settled:.0f} %"


@blueprint.get("/sms")
@requires(Role.SUPERVISOR)
def sms() -> ResponseReturnValue:
    """Show delivery by status and by template, and the newest refused messages."""
    log = _log()
    totals = log.status_counts()
    by_template = sorted(log.template_status_counts().items())
    return page(
        "console/sms.html",
        statuses=list(Status),
        totals=totals,
        total_rate=_rate(totals),
        rows=[{"template": k, "counts": v, "rate": _rate(v)} for k, v in by_template],
        refused=log.recent_in(Status.REFUSED, limit=50),
    )


@blueprint.get("/sms/broadcasts")
@requires(Role.SUPERVISOR)
def broadcast_list() -> ResponseReturnValue:
    """Show the form of a new broadcast and the recent ones."""
    return _broadcast_form()


def _broadcast_form(
    http_status: int = 200, *, error: str = "", template: str = "", params: str = "", csv: str = ""
) -> ResponseReturnValue:
    short_code = services_of(current_app).get(SmsOptions).short_code
    return page(
        "console/broadcasts.html",
        http_status,
        templates=_notices(),
        recent=_desk().recent(),
        error=error,
        chosen=template,
        params=params or f"short_code={short_code}",
        csv=csv,
    )


def _params(raw: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in raw.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip():
            found[name.strip()[:40]] = value.strip()[:200]
    return found


@blueprint.post("/sms/broadcasts")
@requires(Role.SUPERVISOR)
def broadcast_start() -> ResponseReturnValue:
    """Check the template, parameters and list; then queue the broadcast."""
    user = staff()
    assert user is not None
    name = request.form.get("template", "")
    raw_params = request.form.get("params", "")[:4000]
    upload = request.files.get("csv_file")
    content = request.form.get("csv_text", "")
    if upload is not None and upload.filename:
        data = upload.stream.read(MAX_CSV_BYTES + 1)
        content = data.decode("utf-8", errors="replace")
    again = {"template": name, "params": raw_params, "csv": content[:20_000]}
    template = next((tpl for tpl in _notices() if tpl.key == name), None)
    if template is None:
        return _broadcast_form(400, error=t("broadcast_pick_template"), **again)
    if len(content.encode()) > MAX_CSV_BYTES:
        return _broadcast_form(400, error=t("broadcast_too_big"), **again)
    try:
        rows = rows_from_text(content)
    except (ValueError, UnicodeError):
        return _broadcast_form(400, error=t("broadcast_bad_csv"), **again)
    if not rows or len(rows) > MAX_ROWS:
        return _broadcast_form(400, error=t("broadcast_bad_csv"), **again)
    params = _params(raw_params)
    columns = set(rows[0]) - {"phone", "lang"}
    missing = sorted(set(template.params) - set(params) - columns)
    if missing:
        return _broadcast_form(
            400, error=t("broadcast_missing", params=", ".join(missing)), **again
        )
    broadcast = _desk().start(template.key, rows, params, user.email)
    audit(
        "sms.broadcast_start",
        target=broadcast,
        detail=f"template={template.key} rows={len(rows)}",
    )
    return redirect(url_for("console.broadcast", broadcast=broadcast))


def _found(broadcast: str) -> broadcasts.Progress | Response:
    if len(broadcast) != BROADCAST_ID or not broadcast.isalnum():
        return refusal("not_found", 404)
    progress = _desk().progress(broadcast)
    return progress if progress is not None else refusal("not_found", 404)


@blueprint.get("/sms/broadcasts/<broadcast>")
@requires(Role.SUPERVISOR)
def broadcast(broadcast: str) -> ResponseReturnValue:
    """Show a broadcast's progress bar, and stop or resume it."""
    found = _found(broadcast)
    if isinstance(found, Response):
        return found
    return page("console/broadcast.html", progress=found)


@blueprint.get("/sms/broadcasts/<broadcast>/progress")
@requires(Role.SUPERVISOR)
def broadcast_progress(broadcast: str) -> ResponseReturnValue:
    """Answer the broadcast's progress as JSON (the page's script polls it)."""
    found = _found(broadcast)
    if isinstance(found, Response):
        return jsonify(error="not_found"), 404
    return jsonify(found.as_json())


@blueprint.post("/sms/broadcasts/<broadcast>/stop")
@requires(Role.SUPERVISOR)
def broadcast_stop(broadcast: str) -> ResponseReturnValue:
    """Ask the broadcast to stop before its next row (it can be resumed)."""
    found = _found(broadcast)
    if isinstance(found, Response):
        return found
    if not _desk().stop(broadcast):
        return refusal("broadcast_not_running", 409)
    audit("sms.broadcast_stop", target=broadcast, detail=f"at {found.done}/{found.total}")
    return redirect(url_for("console.broadcast", broadcast=broadcast))


@blueprint.post("/sms/broadcasts/<broadcast>/resume")
@requires(Role.SUPERVISOR)
def broadcast_resume(broadcast: str) -> ResponseReturnValue:
    """Queue the stopped broadcast again from its next row."""
    found = _found(broadcast)
    if isinstance(found, Response):
        return found
    if not _desk().resume(broadcast):
        return refusal("broadcast_not_stopped", 409)
    audit("sms.broadcast_resume", target=broadcast, detail=f"from {found.done}/{found.total}")
    return redirect(url_for("console.broadcast", broadcast=broadcast))
