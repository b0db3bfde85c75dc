"""`python -m gateway check`: what production would refuse, without serving; exit 1 if anything.

`--checklist` prints (or `--write README.md` rewrites between its markers) the README's
"Going live" checklist, the same lines production enforces (gateway/golive.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Final

from gateway import golive
from gateway.config import ConfigError, Settings

BEGIN: Final = "<!-- golive-checklist:begin (python -m gateway check --write README.md) -->"
END: Final = "<!-- golive-checklist:end -->"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `check` command."""
    parser = commands.add_parser(
        "check", help="list what production would refuse (exit 1), or say ready to go live"
    )
    parser.add_argument(
        "--checklist", action="store_true", help="print the go-live checklist instead"
    )
    parser.add_argument("--write", metavar="README", help="replace the checklist in this file")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print every problem (exit 1) or "ready to go live" (exit 0)."""
    if args.checklist:
        print(render_checklist())
        return 0
    if args.write is not None:
        path = Path(args.write)
        try:
            path.write_text(replace_checklist(path.read_text(encoding="utf-8")), encoding="utf-8")
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    return report(dict(os.environ))


def report(environ: dict[str, str]) -> int:
    """Check `environ` as production would and print the verdict; return the exit status."""
    try:
        # Read as development so every problem is listed, not only the first family.
        settings = Settings.from_env(environ, overrides={"env": "development"})
    except ConfigError as error:
        print(f"production would refuse to start:\n  - {error}")
        return 1
    found = golive.problems(settings)
    if environ.get("GUICHET_ENV", "development") != "production":
        found.insert(0, "GUICHET_ENV is not production (development serves play money)")
    for warning in golive.warnings(settings):
        print(f"warning (not refused): {warning}", file=sys.stderr)
    if not found:
        print(golive.READY)
        return 0
    print(f"production would refuse to start ({len(found)} problems):")
    for line in found:
        print(f"  - {line}")
    return 1


def render_checklist() -> str:
    """Return the Markdown checklist production enforces."""
    return "\n".join(f"{n}. {item}" for n, item in enumerate(golive.CHECKLIST, start=1))


def replace_checklist(text: str) -> str:
    """Return `text` with the checklist between the markers regenerated."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError("the golive-checklist markers are missing")
    return text[: start + len(BEGIN)] + "\n" + render_checklist() + "\n" + text[end:]
