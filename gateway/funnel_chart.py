"""The funnel as a PNG (`python -m gateway report funnel --png`): one bar chart per journey.

Its own module because matplotlib is heavy (~30 MB, numpy included): only the `report`
command imports it, never the web app or the worker. Matplotlib's object API (Figure on the
Agg canvas) draws without pyplot's global state or a display.
"""

from __future__ import annotations

from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gateway.funnel import Funnel, Journey


def chart(funnel: Funnel, path: str, *, max_journeys: int = 8) -> None:
    """Write the funnel as a PNG: one horizontal bar chart per journey."""
    journeys = funnel.journeys[:max_journeys] or [Journey("(no sessions)")]
    heights = [max(len(j.screens()), 1) * 0.45 + 1.0 for j in journeys]
    figure = Figure(figsize=(9, sum(heights)))
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(journeys), 1, gridspec_kw={"height_ratios": heights})
    for axis, journey in zip(_flat(axes), journeys, strict=True):
        screens = journey.screens()
        reached = [journey.reached[s] for s in screens]
        abandoned = [journey.abandoned[s] for s in screens]
        rows = range(len(screens))
        axis.barh(rows, reached, color="#4c78a8", label="reached")
        axis.barh(rows, abandoned, color="#e45756", label="abandoned here")
        axis.set_yticks(list(rows), screens)
        axis.invert_yaxis()
        axis.set_title(
            f"{journey.name}: {journey.sessions} sessions, {journey.completed} completed",
            fontsize=10,
        )
        axis.legend(loc="lower right", fontsize=8)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)


def _flat(axes: Any) -> list[Any]:
    # Figure.subplots returns one Axes for one row, an array for several.
    return list(getattr(axes, "flat", [axes]))
