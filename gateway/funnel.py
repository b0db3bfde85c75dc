"""Drop-off funnel from stored end-of-session events: per journey, reached and abandoned.

A journey is the first screen after the start screen (`tax_choose`, `doc_choose`, ...). A
session "reached" every screen of its path (the screens it stood on, Back-tracked branches
excepted: the path is the session's history stack plus its last screen). It was "abandoned"
at its last screen unless AT reports `Success` (our END closed it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.ussd_events import SessionEvent

UNKNOWN = "(unknown)"  # no path: the session expired before its event arrived
HOME_ONLY = "(main menu only)"


@dataclass
class Journey:
    """The funnel of one journey."""

    name: str
    sessions: int = 0
    completed: int = 0
    reached: Counter[str] = field(default_factory=Counter)
    abandoned: Counter[str] = field(default_factory=Counter)
    depth: dict[str, float] = field(default_factory=dict)  # mean position, to order screens

    def screens(self) -> list[str]:
        """Return the screens in journey order (mean position, then most reached)."""
        return sorted(self.reached, key=lambda s: (self.depth[s], -self.reached[s], s))


@dataclass
class Funnel:
    """Every journey's funnel, busiest first."""

    journeys: list[Journey]
    sessions: int


def build(events: Iterable[SessionEvent], start: str) -> Funnel:
    """Aggregate events into per-journey funnels."""
    journeys: dict[str, Journey] = {}
    positions: dict[tuple[str, str], list[int]] = {}
    total = 0
    for event in events:
        total += 1
        path = [screen for screen in event.path if not screen.startswith("__")]
        if path and path[0] == start:
            path = path[1:]
        name = path[0] if path else (HOME_ONLY if event.path else UNKNOWN)
        journey = journeys.setdefault(name, Journey(name))
        journey.sessions += 1
        if event.status == "Success":
            journey.completed += 1
        for index, screen in enumerate(dict.fromkeys(path)):
            journey.reached[screen] += 1
            positions.setdefault((name, screen), []).append(index)
        if event.status != "Success":
            journey.abandoned[path[-1] if path else name] += 1
    for (name, screen), seen in positions.items():
        journeys[name].depth[screen] = sum(seen) / len(seen)
    for journey in journeys.values():
        for screen in journey.abandoned:
            journey.depth.setdefault(screen, 0.0)
            journey.reached.setdefault(screen, 0)
    ordered = sorted(journeys.values(), key=lambda j: (-j.sessions, j.name))
    return Funnel(ordered, total)


def table(funnel: Funnel) -> str:
    """Render the funnel as plain text."""
    lines = [f"{funnel.sessions} session(s)"]
    for journey in funnel.journeys:
        lines += [
            "",
            f"journey {journey.name}: {journey.sessions} session(s), "
            f"{journey.completed} completed, {journey.sessions - journey.completed} abandoned",
            f"  {'screen':<28} {'reached':>8} {'abandoned here':>15}",
        ]
        for screen in journey.screens():
            lines.append(
                f"  {screen:<28} {journey.reached[screen]:>8} {journey.abandoned[screen]:>15}"
            )
    return "\n".join(lines) + "\n"
