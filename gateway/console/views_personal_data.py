"""Supervisors answer a citizen's access or erasure request (personal_data/rights.py).

The same calls as `python -m gateway personal-data export|erase`: the export is a JSON
download; the erasure needs a reason and a ticked confirmation. Both land in the personal-data
audit (operator: the supervisor's email) and in the staff audit log (phone masked).
"""

from __future__ import annotations

import json

import phonenumbers
import redis
from flask import Response, current_app, request
from flask.typing import ResponseReturnValue

from gateway.config import Settings
from gateway.console.accounts import Role
from gateway.console.web import audit, blueprint, nav, page, requires, staff, t
from gateway.container import personal_data_stores
from gateway.services import services_of
from personal_data import rights
from personal_data.collectors import Stores, build_collectors
from runtime.masking import mask_phone

nav("console.personal_data", "nav_personal_data", Role.SUPERVISOR, order=60)


def _e164(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw.strip()[:32], None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _stores() -> Stores:
    services = services_of(current_app)
    return personal_data_stores(services.get(Settings), services.get(redis.Redis))


@blueprint.get("/personal-data")
@requires(Role.SUPERVISOR)
def personal_data() -> ResponseReturnValue:
    """Show the access / erasure form."""
    return page("console/personal_data.html")


@blueprint.post("/personal-data")
@requires(Role.SUPERVISOR)
def personal_data_act() -> ResponseReturnValue:
    """Export (a JSON download) or erase what is held about a phone."""
    user = staff()
    assert user is not None
    phone = _e164(request.form.get("phone", ""))
    reason = request.form.get("reason", "").strip()[:200]
    act = request.form.get("act", "")
    if phone is None:
        return page("console/personal_data.html", 400, error=t("pd_bad_phone"))
    stores = _stores()
    try:
        collectors = build_collectors(stores)
        if act == "export":
            document = rights.export(
                stores, collectors, phone, operator=user.email, reason=reason or "access request"
            )
            audit("personal_data.export", target=mask_phone(phone), detail=reason)
            body = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True)
            response = Response(body, mimetype="application/json")
            response.headers["Content-Disposition"] = 'attachment; filename="personal-data.json"'
            return response
        if act != "erase" or not reason or request.form.get("confirm") != "yes":
            return page("console/personal_data.html", 400, error=t("pd_erase_needs"))
        counts = rights.erase(stores, collectors, phone, reason=reason, operator=user.email)
    finally:
        stores.engine.dispose()
    summary = ", ".join(f"{name} {count}" for name, count in counts.items())
    audit("personal_data.erase", target=mask_phone(phone), detail=f"{reason}: {summary}")
    return page("console/personal_data.html", notice=t("pd_erased", phone=mask_phone(phone),
                                                        summary=summary))  # fmt: skip
