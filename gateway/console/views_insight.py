"""Supervisors' views of the USSD service: the drop-off funnel as a chart, and the menu map.

The funnel is gateway.funnel's (the `python -m gateway report funnel` numbers) drawn as an
inline SVG bar chart by the template, with the same numbers in a table beside it: the PNG of
gateway.funnel_chart needs matplotlib, which the web process never loads (its docstring);
an SVG is a few lines of markup, scales on a small screen and passes the page's CSP. The map
is menus.graph's SVG of the menus.yaml the engine runs, with every screen listed as text.
"""

from __future__ import annotations

import time
from typing import Final

import redis
from flask import current_app, request
from flask.typing import ResponseReturnValue

from gateway.console.accounts import Role
from gateway.console.web import blueprint, nav, page, requires
from gateway.funnel import Journey, build
from gateway.services import services_of
from gateway.ussd_events import SessionEvents
from menus.graph import graph_from_spec, to_svg
from menus.model import MenuSpec

PERIODS: Final = {"1d": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400, "all": 0}
MAX_JOURNEYS: Final = 8
BAR_WIDTH: Final = 360  # px of the longest bar
BAR_HEIGHT: Final = 22
LABEL_WIDTH: Final = 200

nav("console.funnel", "nav_funnel", Role.SUPERVISOR, order=60)
nav("console.menu_map", "nav_menu_map", Role.SUPERVISOR, order=65)


def _spec() -> MenuSpec:
    return services_of(current_app).get(MenuSpec)


def _bars(journey: Journey) -> dict[str, object]:
    """Return a journey's chart geometry: one bar per screen, reached and abandoned there."""
    screens = journey.screens()
    # A session left on the main menu "reached" no screen of a journey but was abandoned
    # there: such a bar is as long as its abandons.
    reached = {s: max(journey.reached[s], journey.abandoned[s]) for s in screens}
    top = max(reached.values(), default=0) or 1
    bars = [
        {
            "screen": screen,
            "reached": reached[screen],
            "abandoned": journey.abandoned[screen],
            "y": index * BAR_HEIGHT,
            "width": round(BAR_WIDTH * reached[screen] / top),
            "lost": round(BAR_WIDTH * journey.abandoned[screen] / top),
        }
        for index, screen in enumerate(screens)
    ]
    return {
        "journey": journey,
        "bars": bars,
        "height": max(len(bars), 1) * BAR_HEIGHT,
        "label_width": LABEL_WIDTH,
        "bar_width": BAR_WIDTH,
    }


@blueprint.get("/funnel")
@requires(Role.SUPERVISOR)
def funnel() -> ResponseReturnValue:
    """Show where USSD sessions go and where they are abandoned, per journey."""
    period = request.args.get("period", "7d")
    if period not in PERIODS:
        period = "7d"
    seconds = PERIODS[period]
    since = int((time.time() - seconds) * 1000) if seconds else 0
    spec = _spec()
    events = SessionEvents(services_of(current_app).get(redis.Redis), region=spec.city.country)
    found = build(events.read(since), spec.start)
    return page(
        "console/funnel.html",
        period=period,
        periods=list(PERIODS),
        sessions=found.sessions,
        charts=[_bars(j) for j in found.journeys[:MAX_JOURNEYS]],
    )


@blueprint.get("/menu-map")
@requires(Role.SUPERVISOR)
def menu_map() -> ResponseReturnValue:
    """Show every screen of the running menus and where each answer leads."""
    spec = _spec()
    lang = request.args.get("lang", spec.default_language)
    if lang not in spec.languages:
        lang = spec.default_language
    graph = graph_from_spec(spec, lang)
    leads: dict[str, list[str]] = {}
    for edge in graph.edges:
        leads.setdefault(edge.source, []).append(f"{edge.label} → {edge.target}")
    return page(
        "console/menu_map.html",
        svg=to_svg(graph),
        graph=graph,
        leads=leads,
        map_lang=lang,
        map_languages=spec.languages,
        source=spec.source,
    )
