"""Imports point down: the package graph computed from every import statement of product code.

gateway (the edge and composition root, every CLI) -> menus -> payments -> sms | sessions ->
civic -> runtime | text. A package may import any package of a lower layer, never one of its
own layer or above. Every import statement counts: module level, `if TYPE_CHECKING:`, inside
functions (there must be none: ruff PLC0415 has no exception in product code, checked here too,
since a `# noqa` would silence ruff). docs/architecture.md explains the order.
"""

from __future__ import annotations

import ast
import graphlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Highest first. Packages of one layer are peers: neither imports the other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("gateway",),
    ("menus", "personal_data"),
    ("payments",),
    ("sms", "sessions"),
    ("civic",),
    ("runtime", "text"),
)
APART = ("tests", "bench", "fakes", "scripts", "docs")  # never imported by product code

Edges = Mapping[tuple[str, str], Sequence[str]]  # (importer, imported) -> where


def product_packages(root: Path) -> list[str]:
    """Return the top-level Python packages under `root` that are product code."""
    return sorted(
        path.parent.name
        for path in root.glob("*/__init__.py")
        if path.parent.name not in APART and not path.parent.name.startswith(".")
    )


def imports_of(tree: ast.AST) -> Iterable[tuple[ast.stmt, str]]:
    """Yield every absolute import statement of `tree` with the module it names."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, node.module


def package_edges(root: Path, packages: Iterable[str]) -> dict[tuple[str, str], list[str]]:
    """Return every arrow between `packages`, with the file and line of each import."""
    ours = set(packages)
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for package in sorted(ours):
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node, module in imports_of(tree):
                target = module.split(".", maxsplit=1)[0]
                if target in ours and target != package:
                    where = f"{path.relative_to(root)}:{node.lineno} imports {module}"
                    edges[(package, target)].append(where)
    return dict(edges)


def against_the_order(edges: Edges, layers: Sequence[Sequence[str]] = LAYERS) -> list[str]:
    """Return each arrow that does not point to a lower layer, with where it comes from."""
    rank = {package: depth for depth, layer in enumerate(layers) for package in layer}
    return [
        f"{source} -> {target}: {where[0]}"
        for (source, target), where in sorted(edges.items())
        if rank[source] >= rank[target]
    ]


def cycle_in(edges: Edges) -> list[str] | None:
    """Return one cycle of the package graph (as a path), None when it has none."""
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def imports_inside_definitions(root: Path, packages: Iterable[str]) -> list[str]:
    """Return each import statement written inside a function or a class body."""
    found = []
    for package in sorted(packages):
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for scope in ast.walk(tree):
                if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    found += [
                        f"{path.relative_to(root)}:{node.lineno} imports {module}"
                        for node, module in imports_of(scope)
                    ]
    return sorted(set(found))


def test_every_product_package_has_its_place_in_the_order() -> None:
    placed = {package for layer in LAYERS for package in layer}
    assert product_packages(ROOT) == sorted(placed)


def test_every_import_of_product_code_points_down() -> None:
    edges = package_edges(ROOT, product_packages(ROOT))
    assert ("gateway", "menus") in edges  # the walk really read the imports
    assert ("menus", "payments") in edges
    assert against_the_order(edges) == []
    assert cycle_in(edges) is None


def test_product_code_imports_nothing_inside_a_function() -> None:
    assert imports_inside_definitions(ROOT, product_packages(ROOT)) == []


def _tree(root: Path, files: Mapping[str, str]) -> Path:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root


def test_the_check_sees_an_upward_import_hidden_in_a_function(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "gateway/__init__.py": "",
            "gateway/config.py": "import sms.store\n",
            "sms/__init__.py": "",
            "sms/cli.py": "def main() -> None:\n    from gateway.config import Settings\n",
        },
    )
    edges = package_edges(root, product_packages(root))
    assert set(edges) == {("gateway", "sms"), ("sms", "gateway")}
    assert against_the_order(edges) == ["sms -> gateway: sms/cli.py:2 imports gateway.config"]
    assert cycle_in(edges) in (["gateway", "sms", "gateway"], ["sms", "gateway", "sms"])
    assert imports_inside_definitions(root, ["gateway", "sms"]) == [
        "sms/cli.py:2 imports gateway.config"
    ]


def test_peers_may_not_import_each_other() -> None:
    edges = {("sms", "sessions"): ["sms/x.py:1 imports sessions.store"]}
    assert against_the_order(edges) == ["sms -> sessions: sms/x.py:1 imports sessions.store"]
    assert against_the_order({("payments", "sms"): ["payments/y.py:3 imports sms"]}) == []
