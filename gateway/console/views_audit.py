"""Supervisors read the staff audit log (it is append-only: there is nothing to edit)."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from gateway.console.accounts import Role
from gateway.console.web import blueprint, console, nav, page, requires

nav("console.audit_log", "nav_audit", Role.SUPERVISOR, order=80)


@blueprint.get("/audit")
@requires(Role.SUPERVISOR)
def audit_log() -> ResponseReturnValue:
    """List the newest staff actions, optionally of one person or about one target."""
    actor = request.args.get("actor", "").strip()[:64] or None
    target = request.args.get("target", "").strip()[:120] or None
    entries = console().audit.recent(limit=200, actor=actor, target=target)
    return page("console/audit.html", entries=entries, actor=actor or "", target=target or "")
