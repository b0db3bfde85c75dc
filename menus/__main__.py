"""`python -m menus lint [menus.yaml]`: check a menus file (exit 1 with one line per problem)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from menus import graph
from menus.lint import lint


def main(argv: Sequence[str] | None = None) -> int:
    """Run the menus command line."""
    parser = argparse.ArgumentParser(prog="python -m menus", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("lint", help="check a menus file")
    check.add_argument("path", nargs="?", default="menus.yaml")
    check.add_argument(
        "--catalogue",
        default=None,
        help="the catalogue with an `appointments:` section (default: civic/demo_city.yaml beside)",
    )
    # `map` owns its options (menus.graph.main): hand it the rest of the line untouched.
    commands.add_parser("map", help="draw the menu graph (mermaid or svg)", add_help=False)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["map"]:
        return graph.main(argv[1:])
    args = parser.parse_args(argv)
    report = lint(args.path, catalogue=args.catalogue)
    out = sys.stdout if report.ok else sys.stderr
    for line in report.lines():
        print(line, file=out)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
