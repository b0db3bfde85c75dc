"""`python -m menus lint [menus.yaml]`: check a menus file, or every city pack (cities/<id>/).

Exit 1 with one line per problem; `--review` lists the texts awaiting a native speaker.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from menus import graph
from menus.lint import lint
from menus.review import to_review
from runtime.packs import CATALOGUE_FILE, SMS_TEMPLATES_FILE, all_packs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the menus command line."""
    parser = argparse.ArgumentParser(prog="python -m menus", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("lint", help="check a menus file")
    check.add_argument("path", nargs="?", default=None, help="default: every city pack")
    check.add_argument(
        "--review",
        action="store_true",
        help="also list every text of a language marked `review:` (not verified by the team)",
    )
    check.add_argument(
        "--catalogue",
        default=None,
        help="the catalogue with an `appointments:` section (default: catalogue.yaml beside)",
    )
    # `map` owns its options (menus.graph.main): hand it the rest of the line untouched.
    commands.add_parser("map", help="draw the menu graph (mermaid or svg)", add_help=False)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["map"]:
        return graph.main(argv[1:])
    args = parser.parse_args(argv)
    paths = [Path(args.path)] if args.path else [found.menus for found in all_packs()]
    ok = True
    for path in paths:
        report = lint(path, catalogue=args.catalogue)
        ok = ok and report.ok
        out = sys.stdout if report.ok else sys.stderr
        for line in report.lines():
            print(line, file=out)
        if args.review:
            # The pack's files: its menus, SMS templates and catalogue beside them.
            for file in (
                path,
                path.resolve().with_name(SMS_TEMPLATES_FILE),
                path.resolve().with_name(CATALOGUE_FILE),
            ):
                if file.is_file():
                    for line in to_review(file):
                        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
