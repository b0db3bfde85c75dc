"""`python -m gateway settings-table`: the README's configuration table, from Settings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

from gateway.config import Settings

BEGIN: Final = "<!-- settings-table:begin (python -m gateway settings-table --write README.md) -->"
END: Final = "<!-- settings-table:end -->"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `settings-table` command."""
    parser = commands.add_parser(
        "settings-table", help="print (or write into the README) the table of every env var"
    )
    parser.add_argument("--write", metavar="README", help="replace the table in this file")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the table, or rewrite it between the README's markers."""
    if args.write is None:
        print(render_table())
        return 0
    path = Path(args.write)
    try:
        path.write_text(replace_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def render_table() -> str:
    """Return the Markdown table of every setting: variable, default, meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for env, default, doc in Settings.documented():
        shown = f"`{default}`" if default != "" else "(empty)"
        meaning = doc.replace("|", "\\|")
        lines.append(f"| `{env}` | {shown} | {meaning} |")
    return "\n".join(lines)


def replace_table(text: str) -> str:
    """Return `text` with the table between the markers regenerated."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError("the settings-table markers are missing")
    return text[: start + len(BEGIN)] + "\n" + render_table() + "\n" + text[end:]
