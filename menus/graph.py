"""The menu graph of a menus.yaml: screens, options, actions and their result branches.

Built from the parsed YAML document (format version 1, docs/contracts.md) so it can draw a
file the linter would reject too: a city editing its menus wants to see the broken branch.
Rendered as mermaid text (for docs and code review) or as a standalone SVG laid out here,
without any external tool: layers are the BFS depth from `start`, left to right.
"""

from __future__ import annotations

import argparse
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import yaml

if TYPE_CHECKING:
    from menus.model import MenuSpec

KINDS: Final = ("menu", "input", "action", "end")


@dataclass(frozen=True, slots=True)
class Node:
    """One screen: its id, its type and the first line of its text."""

    id: str
    kind: str
    title: str


@dataclass(frozen=True, slots=True)
class Edge:
    """Where a screen leads: an option key, an action outcome, `input`, `empty`..."""

    source: str
    target: str
    label: str
    missing: bool = False  # the target is not a screen of the file


@dataclass(frozen=True, slots=True)
class MenuGraph:
    """Screens and the branches between them, in file order."""

    start: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, node_id: str) -> Node | None:
        """Return the node called `node_id`, if any."""
        return next((n for n in self.nodes if n.id == node_id), None)


def build_graph(document: Mapping[str, Any], lang: str | None = None) -> MenuGraph:
    """Build the graph of a parsed menus.yaml document (texts in `lang`, default the first)."""
    languages = document.get("languages") or ["fr"]
    lang = lang or str(languages[0])
    screens: Mapping[str, Any] = document.get("screens") or {}
    nodes: list[Node] = []
    edges: dict[tuple[str, str], list[str]] = {}
    for screen_id, raw in screens.items():
        screen: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        nodes.append(
            Node(str(screen_id), str(screen.get("type", "?")), _title(screen.get("text"), lang))
        )
        for target, label in _branches(screen, lang):
            edges.setdefault((str(screen_id), target), []).append(label)
    return _assemble(str(document.get("start", nodes[0].id if nodes else "")), nodes, edges)


def graph_from_spec(spec: MenuSpec, lang: str | None = None) -> MenuGraph:
    """Build the graph of a compiled MenuSpec (the one the running engine walks)."""
    lang = lang or spec.default_language
    nodes: list[Node] = []
    edges: dict[tuple[str, str], list[str]] = {}
    for screen in spec.screens.values():
        title = _title(screen.text.template(lang).source if screen.text else "", lang)
        nodes.append(Node(screen.id, screen.kind, title))
        branches = [
            (option.next, f"{option.key}. {_title(option.label.template(lang).source, lang)}")
            for option in screen.options
        ]
        if screen.options_from and screen.next:
            branches.append((screen.next, f"{screen.options_from}()"))
        elif screen.kind in ("input", "form") and screen.next:
            branches.append((screen.next, screen.save_as or "input"))
        elif screen.next and not screen.options:
            branches.append((screen.next, "next"))
        if screen.empty:
            branches.append((screen.empty, "empty"))
        if screen.typed is not None:
            branches.append((screen.typed.next, screen.typed.save_as))
        branches.extend((target, outcome) for outcome, target in screen.on.items())
        for target, label in branches:
            edges.setdefault((screen.id, target), []).append(label)
    return _assemble(spec.start, nodes, edges)


def _assemble(start: str, nodes: list[Node], edges: dict[tuple[str, str], list[str]]) -> MenuGraph:
    known = {n.id for n in nodes}
    return MenuGraph(
        start=start,
        nodes=tuple(nodes),
        # Parallel branches (two options to one screen) become one edge with both labels.
        edges=tuple(
            Edge(src, dst, _merge(labels), missing=dst not in known)
            for (src, dst), labels in edges.items()
        ),
    )


def _merge(labels: list[str]) -> str:
    # Several options to one screen (a language list): their keys say it all, "1, 2, 3".
    if len(labels) == 1:
        return labels[0]
    return ", ".join(label.split(". ", 1)[0] for label in labels)


def _branches(screen: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    branches: list[tuple[str, str]] = []
    for option in screen.get("options") or []:
        # An option without its own `next` follows the screen's (it only sets a `value`).
        target = option.get("next") or screen.get("next") if isinstance(option, Mapping) else None
        if target:
            label = _title(option.get("label"), lang)
            branches.append((str(target), f"{option.get('key', '?')}. {label}"))
    if screen.get("options_from") and screen.get("next"):
        branches.append((str(screen["next"]), f"{screen['options_from']}()"))
    elif screen.get("type") in ("input", "form") and screen.get("next"):
        branches.append((str(screen["next"]), str(screen.get("save_as") or "input")))
    elif screen.get("next") and not screen.get("options"):
        branches.append((str(screen["next"]), "next"))
    if screen.get("empty"):
        branches.append((str(screen["empty"]), "empty"))
    # PyYAML reads a bare `on:` key as the boolean True (YAML 1.1): accept both spellings.
    outcomes = screen.get("on", screen.get(True))  # type: ignore[call-overload]
    if isinstance(outcomes, Mapping):
        branches.extend((str(target), str(outcome)) for outcome, target in outcomes.items())
    return branches


def _title(text: Any, lang: str) -> str:
    if isinstance(text, Mapping):
        text = text.get(lang) or next(iter(text.values()), "")
    first = str(text or "").strip().splitlines()
    return first[0] if first else ""


# --- mermaid ---------------------------------------------------------------------------

_MERMAID_SHAPES: Final = {
    "menu": ('["', '"]'),
    "input": ('[/"', '"/]'),
    "form": ('[["', '"]]'),
    "action": ('{{"', '"}}'),
    "end": ('(["', '"])'),
}


def to_mermaid(graph: MenuGraph) -> str:
    """Render the graph as a mermaid flowchart (left to right)."""
    lines = ["flowchart LR"]
    for node in graph.nodes:
        left, right = _MERMAID_SHAPES.get(node.kind, ('["', '"]'))
        text = _mermaid_text(f"{node.id}: {_short(node.title, 40)}" if node.title else node.id)
        lines.append(f"    {_mermaid_id(node.id)}{left}{text}{right}")
    for missing in sorted({e.target for e in graph.edges if e.missing}):
        lines.append(f'    {_mermaid_id(missing)}["{_mermaid_text(missing)} (missing)"]')
    for edge in graph.edges:
        label = _mermaid_text(_short(edge.label, 40))
        lines.append(f'    {_mermaid_id(edge.source)} -->|"{label}"| {_mermaid_id(edge.target)}')
    if graph.node(graph.start):
        lines.append(f"    style {_mermaid_id(graph.start)} stroke-width:3px")
    return "\n".join(lines) + "\n"


def _mermaid_id(screen_id: str) -> str:
    # Mermaid ids must be plain words; keep them readable and collision-free enough for YAML keys.
    return "s_" + "".join(c if c.isalnum() or c == "_" else "_" for c in screen_id)


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", " ")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- svg -------------------------------------------------------------------------------

NODE_W: Final = 210
NODE_H: Final = 46
COL_GAP: Final = 110
ROW_GAP: Final = 26
MARGIN: Final = 24
TOP_BAND: Final = 56  # room above the first row for branches that go back left

_FILL: Final = {
    "menu": "#e8f0fe",
    "input": "#fff4e0",
    "form": "#fff4e0",  # a form is inputs, one per field
    "action": "#efe6fb",
    "end": "#e6f4ea",
}


def layout(graph: MenuGraph) -> dict[str, tuple[float, float]]:
    """Place each node: column = BFS depth from start, row order smoothed by barycenters."""
    ids = [n.id for n in graph.nodes] + sorted({e.target for e in graph.edges if e.missing})
    successors: dict[str, list[str]] = {i: [] for i in ids}
    for edge in graph.edges:
        successors[edge.source].append(edge.target)
    depth: dict[str, int] = {}
    if graph.start in successors:
        depth[graph.start] = 0
        queue = deque([graph.start])
        while queue:
            current = queue.popleft()
            for nxt in successors[current]:
                if nxt not in depth:
                    depth[nxt] = depth[current] + 1
                    queue.append(nxt)
    # Unreachable screens get their own last column: the linter calls them dead, the map shows them.
    last = max(depth.values(), default=-1) + 1
    columns: dict[int, list[str]] = {}
    for node_id in ids:
        columns.setdefault(depth.get(node_id, last), []).append(node_id)
    _order_by_barycenter(columns, graph.edges)
    positions: dict[str, tuple[float, float]] = {}
    for col, members in columns.items():
        for row, node_id in enumerate(members):
            positions[node_id] = (
                MARGIN + col * (NODE_W + COL_GAP),
                MARGIN + TOP_BAND + row * (NODE_H + ROW_GAP),
            )
    return positions


def _order_by_barycenter(columns: dict[int, list[str]], edges: tuple[Edge, ...]) -> None:
    # One left-to-right sweep: each node sits near the mean row of its parents (fewer crossings).
    parents: dict[str, list[str]] = {}
    for edge in edges:
        parents.setdefault(edge.target, []).append(edge.source)
    row: dict[str, float] = {}
    for col in sorted(columns):
        members = columns[col]
        if col > 0:
            index = {m: i for i, m in enumerate(members)}

            def key(node_id: str, index: dict[str, int] = index) -> tuple[float, int]:
                placed = [row[p] for p in parents.get(node_id, []) if p in row]
                return (sum(placed) / len(placed) if placed else float("inf"), index[node_id])

            members.sort(key=key)
        for i, member in enumerate(members):
            row[member] = float(i)


def to_svg(graph: MenuGraph) -> str:
    """Render the graph as a standalone SVG document."""
    positions = layout(graph)
    width = max((x for x, _ in positions.values()), default=0) + NODE_W + MARGIN
    height = max((y for _, y in positions.values()), default=0) + NODE_H + MARGIN
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="menu-map" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        'font-family="sans-serif" font-size="12">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
    ]
    for edge in graph.edges:
        out.append(_svg_edge(edge, positions[edge.source], positions[edge.target]))
    kinds = {n.id: n for n in graph.nodes}
    for node_id, (x, y) in positions.items():
        out.append(_svg_node(kinds.get(node_id), node_id, x, y, node_id == graph.start))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _svg_node(node: Node | None, node_id: str, x: float, y: float, is_start: bool) -> str:
    kind = node.kind if node else "missing"
    title = node.title if node else "(missing screen)"
    fill = _FILL.get(kind, "#fde8e8")
    rx = 22 if kind == "end" else 4
    stroke = 'stroke="#1a73e8" stroke-width="3"' if is_start else 'stroke="#666"'
    dash = ' stroke-dasharray="5 3"' if node is None else ""
    return (
        f'<g class="node {escape(kind)}" id="node-{escape(node_id)}" '
        f'data-screen="{escape(node_id)}"><title>{escape(node_id)} ({escape(kind)}): '
        f"{escape(title)}</title>"
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="{rx}" '
        f'fill="{fill}" {stroke}{dash}/>'
        f'<text x="{x + 8:.0f}" y="{y + 18:.0f}" font-weight="bold">{escape(_short(node_id, 24))}'
        f' <tspan font-weight="normal" fill="#666">{escape(kind)}</tspan></text>'
        f'<text x="{x + 8:.0f}" y="{y + 36:.0f}" fill="#333">{escape(_short(title, 30))}</text>'
        "</g>"
    )


def _svg_edge(edge: Edge, src: tuple[float, float], dst: tuple[float, float]) -> str:
    x1, y1 = src[0] + NODE_W, src[1] + NODE_H / 2
    x2, y2 = dst[0], dst[1] + NODE_H / 2
    forward = x2 > x1
    if forward:
        bend = max(40.0, (x2 - x1) / 2)
        path = (
            f"M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} "
            f"{x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        )
        lx, ly = (x1 + x2) / 2, (y1 + y2) / 2 - 4
    elif src[0] == dst[0]:
        # Same column: bulge out to the right of both boxes.
        x2 = x1
        bulge = x1 + COL_GAP * 0.45
        path = f"M{x1:.0f},{y1:.0f} C{bulge:.0f},{y1:.0f} {bulge:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        lx, ly = bulge - 6, (y1 + y2) / 2
    else:
        # A branch back (not found, home, an error screen placed earlier): through the top band.
        x1, y1 = src[0] + NODE_W / 2, src[1]
        x2, y2 = dst[0] + NODE_W / 2, dst[1]
        lane = float(MARGIN) - 8
        path = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{lane:.0f} {x2:.0f},{lane:.0f} {x2:.0f},{y2:.0f}"
        lx, ly = (x1 + x2) / 2, lane + (min(y1, y2) - lane) / 4 + 8
    style = 'stroke="#555"' if forward else 'stroke="#999" stroke-dasharray="4 3"'
    return (
        f'<g class="edge" data-source="{escape(edge.source)}" data-target="{escape(edge.target)}">'
        f"<title>{escape(edge.source)} → {escape(edge.target)}: {escape(edge.label)}</title>"
        f'<path d="{path}" fill="none" {style} marker-end="url(#arrow)"/>'
        f'<text x="{lx:.0f}" y="{ly:.0f}" text-anchor="middle" font-size="10" fill="#333" '
        f'stroke="#fff" stroke-width="3" paint-order="stroke">{escape(_short(edge.label, 26))}'
        "</text></g>"
    )


# --- command line: `python -m menus map` -------------------------------------------------


def load_document(path: str | Path) -> Mapping[str, Any]:
    """Read a menus.yaml file as a plain mapping (no engine validation: draw what is there)."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(document, Mapping):
        raise ValueError(f"{path}: not a menus.yaml mapping")
    return document


def render(document: Mapping[str, Any], fmt: str = "mermaid", lang: str | None = None) -> str:
    """Render a parsed menus.yaml as `mermaid` or `svg` text."""
    graph = build_graph(document, lang)
    if fmt == "svg":
        return to_svg(graph)
    if fmt == "mermaid":
        return to_mermaid(graph)
    raise ValueError(f"unknown format {fmt!r} (mermaid or svg)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run `map [menus.yaml] [--format mermaid|svg] [--lang xx] [-o FILE]`; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m menus map", description="Draw the menu graph of a menus.yaml."
    )
    parser.add_argument("path", nargs="?", default="menus.yaml", help="default: menus.yaml")
    parser.add_argument("--format", choices=("mermaid", "svg"), default="mermaid")
    parser.add_argument("--lang", default=None, help="texts in this language (default: first)")
    parser.add_argument("-o", "--output", default=None, help="write here instead of stdout")
    args = parser.parse_args(argv)
    try:
        text = render(load_document(args.path), args.format, args.lang)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"menus map: {exc}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
