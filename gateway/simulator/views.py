"""The simulator's pages and its small JSON endpoints; each handler parses, asks, renders.

The page itself talks to the gateway's real `POST /ussd/<adapter>`, exactly as the chosen
aggregator would (Africa's Talking by default; the protocol picker offers every adapter of
gateway/aggregators/): nothing here shortcuts the USSD path. These endpoints only serve what a
real phone would show beside it (the SMS it receives) and the tester's conveniences.
"""

from __future__ import annotations

from typing import Any, Final

import phonenumbers
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from gateway.africastalking import UssdParseError, normalise_msisdn
from gateway.aggregators import ADAPTERS
from gateway.config import Settings
from gateway.simulator.language import set_language
from gateway.simulator.outbox import messages_for
from gateway.ussd_wsgi import HOP_PATH, PREFIX
from menus.graph import graph_from_spec, to_mermaid, to_svg
from menus.hop import HopHandler
from menus.model import MenuSpec
from text.encoding import cost

blueprint = Blueprint(
    "simulator",
    __name__,
    url_prefix="/simulator",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# Africa's Talking's sandbox network code: the gateway must not care which operator routed a hop.
SANDBOX_NETWORK_CODE: Final = "99999"
MAX_COST_TEXT: Final = 2000


def enabled(settings: Settings) -> bool:
    """Return True when this process may serve the simulator (never in production)."""
    return settings.simulator_enabled and settings.env != "production"


@blueprint.get("")
def phone() -> str:
    """Render the phone, its keypad and the outbox panel."""
    spec = _spec()
    return render_template(
        "simulator/phone.html",
        spec=spec,
        default_phone=_example_phone(spec.city.country),
        ussd_url=request.script_root + HOP_PATH,  # served by the fast path, not a view
        ussd_base=request.script_root + PREFIX,
        protocols=[(adapter.name, adapter.title) for adapter in ADAPTERS],
        generic_fields=_generic_fields(current_app.config["SETTINGS"]),
        network_code=SANDBOX_NETWORK_CODE,
    )


def _generic_fields(settings: Settings) -> dict[str, Any]:
    """Return the configured CON/END adapter's field names, for the page to speak it."""
    return {
        "session": settings.ussd_generic_session_field,
        "msisdn": settings.ussd_generic_msisdn_field,
        "service": settings.ussd_generic_service_field,
        "input": settings.ussd_generic_input_field,
        "cumulative": settings.ussd_generic_input == "cumulative",
    }


@blueprint.post("/cost")
def text_cost() -> tuple[Response, int]:
    """Return what a screen costs: encoding, units used and the USSD budget."""
    payload = request.get_json(silent=True)
    text = payload.get("text") if isinstance(payload, dict) else None
    if not isinstance(text, str) or len(text) > MAX_COST_TEXT:
        return _error(f'send JSON {{"text": "..."}} of at most {MAX_COST_TEXT} characters')
    measured = cost(text)
    return jsonify(
        encoding=measured.encoding,
        units=measured.units,
        limit=measured.ussd_limit,
        fits=measured.fits_ussd,
        non_gsm=list(measured.non_gsm),
        sms_segments=measured.sms_segments,
    ), 200


@blueprint.get("/outbox")
def outbox() -> tuple[Response, int]:
    """Return the SMS the console provider sent to `?phone=`, newest first."""
    msisdn = _phone_arg(request.args.get("phone", ""))
    if msisdn is None:
        return _error("phone: give a valid phone number, e.g. +243810000001")
    return jsonify(phone=msisdn, messages=messages_for(_services(), msisdn)), 200


@blueprint.post("/language")
def language() -> tuple[Response, int]:
    """Set a phone's language the way the USSD language menu does."""
    payload = request.get_json(silent=True)
    payload = payload if isinstance(payload, dict) else {}
    raw_phone, lang = payload.get("phone"), payload.get("lang")
    msisdn = _phone_arg(raw_phone) if isinstance(raw_phone, str) else None
    if msisdn is None:
        return _error("phone: give a valid phone number, e.g. +243810000001")
    if lang not in _spec().languages:
        return _error(f"lang: one of {', '.join(_spec().languages)}")
    if not set_language(_services().get(HopHandler), _spec(), msisdn, lang):
        return _error(f"no menu of {_spec().source} chooses {lang}", 409)
    return jsonify(phone=msisdn, lang=lang), 200


@blueprint.get("/map")
def menu_map() -> str:
    """Render the menu graph of the loaded menus.yaml as an inline SVG page."""
    spec = _spec()
    lang = request.args.get("lang", spec.default_language)
    if lang not in spec.languages:
        lang = spec.default_language
    graph = graph_from_spec(spec, lang)
    return render_template(
        "simulator/map.html", spec=spec, lang=lang, svg=to_svg(graph), mermaid=to_mermaid(graph)
    )


def _phone_arg(raw: str) -> str | None:
    if not raw or len(raw) > 32:
        return None
    try:
        return normalise_msisdn(raw, _spec().city.country)
    except UssdParseError:
        return None


def _example_phone(region: str) -> str:
    # A real-looking mobile number of the city's country, so the gateway's parser accepts it.
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return "+243810000001"
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def _error(message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(error=message), status


def _services() -> Any:
    return current_app.extensions["guichet"]


def _spec() -> MenuSpec:
    spec: MenuSpec = _services().get(MenuSpec)
    return spec
