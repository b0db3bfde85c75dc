"""The menu map: every screen and every branch of a menus file, as mermaid and as SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from menus.__main__ import main as menus_main
from menus.graph import build_graph, load_document, main, to_mermaid, to_svg

FIXTURE = Path(__file__).with_name("menus_small.yaml")
SCREENS = {
    "main",
    "tax_choose",
    "tax_lookup",
    "track_ref",
    "help",
    "no_taxes",
    "unavailable",
    "done",
    "orphan",
}
# Written out by hand from the fixture, not derived by the code under test.
EDGES = {
    ("main", "tax_choose"),
    ("main", "track_ref"),
    ("main", "help"),
    ("tax_choose", "tax_lookup"),
    ("tax_choose", "no_taxes"),
    ("tax_lookup", "done"),
    ("tax_lookup", "main"),
    ("tax_lookup", "unavailable"),
    ("track_ref", "done"),
}
SVG_NS = "{http://www.w3.org/2000/svg}"


def _svg_sets(svg: str) -> tuple[set[str], set[tuple[str, str]]]:
    root = ET.fromstring(svg)  # noqa: S314 - our own SVG, not untrusted input
    nodes = {g.get("data-screen", "") for g in root.iter(f"{SVG_NS}g") if g.get("data-screen")}
    edges = {
        (g.get("data-source", ""), g.get("data-target", ""))
        for g in root.iter(f"{SVG_NS}g")
        if g.get("class") == "edge"
    }
    return nodes, edges


def test_svg_has_every_screen_and_every_branch() -> None:
    nodes, edges = _svg_sets(to_svg(build_graph(load_document(FIXTURE))))
    assert nodes == SCREENS
    assert edges == EDGES


def test_mermaid_has_every_screen_and_every_branch() -> None:
    text = to_mermaid(build_graph(load_document(FIXTURE)))
    assert text.startswith("flowchart LR\n")
    declared = set(re.findall(r"^    s_(\w+)[\[\{\(]", text, flags=re.MULTILINE))
    arrows = set(re.findall(r"^    s_(\w+) -->\|\"[^\"]*\"\| s_(\w+)$", text, flags=re.MULTILINE))
    assert declared == SCREENS
    assert arrows == EDGES


def test_branch_labels_name_the_option_and_the_outcome() -> None:
    graph = build_graph(load_document(FIXTURE), lang="en")
    labels = {(e.source, e.target): e.label for e in graph.edges}
    assert labels[("main", "track_ref")] == "2. Track"
    assert labels[("tax_lookup", "main")] == "not_found"
    assert labels[("tax_choose", "no_taxes")] == "empty"
    assert labels[("track_ref", "done")] == "ref"


def test_texts_are_escaped_in_both_formats() -> None:
    graph = build_graph(load_document(FIXTURE))
    assert '"Testville"' not in to_mermaid(graph)  # the quotes of the fixture's welcome text
    assert "#quot;Testville#quot;" in to_mermaid(graph)
    ET.fromstring(to_svg(graph))  # noqa: S314 - well-formed despite the quotes


def test_a_branch_to_a_missing_screen_is_drawn_as_missing() -> None:
    document = {
        "start": "a",
        "screens": {"a": {"type": "input", "text": {"fr": "A"}, "next": "nowhere"}},
    }
    graph = build_graph(document)
    assert [(e.target, e.missing) for e in graph.edges] == [("nowhere", True)]
    nodes, edges = _svg_sets(to_svg(graph))
    assert nodes == {"a", "nowhere"}
    assert edges == {("a", "nowhere")}


@pytest.mark.parametrize("fmt", ["mermaid", "svg"])
def test_command_writes_the_map(fmt: str, tmp_path: Path) -> None:
    out = tmp_path / f"map.{fmt}"
    assert main([str(FIXTURE), "--format", fmt, "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert ("<svg" in text) == (fmt == "svg")
    assert "tax_lookup" in text


def test_command_reports_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.yaml")]) == 2
    assert "menus map:" in capsys.readouterr().err


def test_menus_command_line_dispatches_map(capsys: pytest.CaptureFixture[str]) -> None:
    assert menus_main(["map", str(FIXTURE), "--format", "mermaid", "--lang", "en"]) == 0
    assert 's_main -->|"2. Track"| s_track_ref' in capsys.readouterr().out
