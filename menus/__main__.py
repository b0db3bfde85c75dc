"""`python -m menus lint [menus.yaml] [--catalogue city.yaml]`: check a menus file and the city
catalogue's kinds and workflows with it (exit 1 with one line per problem)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from civic.seed import DEMO_CITY
from menus import graph
from menus.lint import lint
from menus.lint_catalogue import serves_civic
from menus.loader import MenuError, read_document


def main(argv: Sequence[str] | None = None) -> int:
    """Run the menus command line."""
    parser = argparse.ArgumentParser(prog="python -m menus", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("lint", help="check a menus file")
    check.add_argument("path", nargs="?", default="menus.yaml")
    check.add_argument(
        "--catalogue",
        default="auto",
        help="the city catalogue whose kinds and workflows are checked with the menus "
        "('auto', the default: the demo city when the menus serve the civic journeys; "
        "'none' to skip)",
    )
    # `map` owns its options (menus.graph.main): hand it the rest of the line untouched.
    commands.add_parser("map", help="draw the menu graph (mermaid or svg)", add_help=False)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["map"]:
        return graph.main(argv[1:])
    args = parser.parse_args(argv)
    report = lint(args.path, catalogue=_catalogue(args.path, args.catalogue))
    out = sys.stdout if report.ok else sys.stderr
    for line in report.lines():
        print(line, file=out)
    return 0 if report.ok else 1


def _catalogue(path: str, chosen: str) -> str | Path | None:
    """Return the catalogue to check with the menus at `path` (None: none)."""
    if chosen == "none":
        return None
    if chosen != "auto":
        return chosen
    try:
        document = read_document(path)
    except MenuError:
        return None  # lint reports why the menus cannot be read
    return DEMO_CITY if serves_civic(document) else None


if __name__ == "__main__":
    sys.exit(main())
