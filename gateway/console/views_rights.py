"""Supervisors answer a citizen's rights: a copy of everything held, or its erasure.

The same acts as `python -m gateway personal-data export|erase` (personal_data.rights), with
the supervisor as the operator: each is recorded in the personal-data audit log (under the
phone's keyed hash) and in the staff audit log (masked number). An erasure needs its reason
and the number typed twice: it cannot be undone.
"""

from __future__ import annotations

import json
from typing import Final

from flask import Response, request
from flask.typing import ResponseReturnValue

from gateway.console.accounts import Role
from gateway.console.supervision import phone_e164, stores
from gateway.console.web import audit, blueprint, nav, page, requires, staff, t
from personal_data import rights
from personal_data.collectors import build_collectors
from runtime.masking import mask_phone

MAX_REASON: Final = 200

nav("console.personal_data", "nav_personal_data", Role.SUPERVISOR, order=70)


def _form(http_status: int = 200, **context: object) -> ResponseReturnValue:
    return page("console/personal_data.html", http_status, **context)


@blueprint.get("/personal-data")
@requires(Role.SUPERVISOR)
def personal_data() -> ResponseReturnValue:
    """Show the export and erasure forms."""
    return _form()


@blueprint.post("/personal-data/export")
@requires(Role.SUPERVISOR)
def personal_data_export() -> ResponseReturnValue:
    """Answer a JSON file of everything held about the phone (audited)."""
    user = staff()
    assert user is not None
    phone = phone_e164(request.form.get("phone", ""))
    reason = request.form.get("reason", "").strip()[:MAX_REASON] or "access request"
    if phone is None:
        return _form(400, export_error=t("counter_bad_phone"))
    held = stores()
    document = rights.export(
        held, build_collectors(held), phone, operator=user.email, reason=reason
    )
    counts = " ".join(f"{k}={len(v)}" for k, v in document["records"].items())
    audit("personal_data.export", target=mask_phone(phone), detail=f"{reason}: {counts}")
    body = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    response = Response(body + "\n", mimetype="application/json")
    name = f"personal-data-{held.phone_ref(phone)[:12]}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@blueprint.post("/personal-data/erase")
@requires(Role.SUPERVISOR)
def personal_data_erase() -> ResponseReturnValue:
    """Erase or anonymise what is held about the phone, once confirmed (audited)."""
    user = staff()
    assert user is not None
    phone = phone_e164(request.form.get("phone", ""))
    again = phone_e164(request.form.get("phone_again", ""))
    reason = request.form.get("reason", "").strip()[:MAX_REASON]
    if phone is None:
        return _form(400, erase_error=t("counter_bad_phone"))
    if again != phone:
        return _form(400, erase_error=t("rights_phone_mismatch"))
    if not reason:
        return _form(400, erase_error=t("rights_reason_needed"))
    held = stores()
    counts = rights.erase(held, build_collectors(held), phone, reason=reason, operator=user.email)
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    audit("personal_data.erase", target=mask_phone(phone), detail=f"{reason}: {summary}")
    return _form(erased=t("rights_erased", phone=mask_phone(phone), counts=summary))
