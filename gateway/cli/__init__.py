"""The `python -m gateway` commands; each module adds one subcommand and runs it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gateway.cli import (
    check,
    dial,
    hash_key,
    payments,
    report,
    run,
    schema,
    settings_table,
    sms,
    worker,
)
from gateway.config import ConfigError

COMMANDS = (worker, run, dial, schema, hash_key, settings_table, report, check, sms, payments)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every `python -m gateway` command."""
    parser = argparse.ArgumentParser(
        prog="python -m gateway", description="Guichet: USSD/SMS gateway for city services."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return status
