"""The `python -m gateway` commands; each module adds its subcommand(s) and runs them.

Only the chosen command's module is imported (pip loads its commands the same way): `report`
brings matplotlib and `run` the Redis emulation (fakeredis), and a production worker or web
process must carry neither. `--help`, or a name that is no command, imports them all.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Final

from gateway.config import ConfigError

# Command name -> the module whose register(commands) adds it (a module may add several).
COMMANDS: Final = {
    "worker": "gateway.cli.worker",
    "run": "gateway.cli.run",
    "dial": "gateway.cli.dial",
    "migrate": "gateway.cli.schema",
    "seed-demo": "gateway.cli.schema",
    "hash-key": "gateway.cli.hash_key",
    "settings-table": "gateway.cli.settings_table",
    "report": "gateway.cli.report",
    "check": "gateway.cli.check",
    "sms": "gateway.cli.sms",
    "payments": "gateway.cli.payments",
    "personal-data": "gateway.cli.personal_data",
    "users": "gateway.cli.users",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Return the parser of the command `argv` names (of every command when it names none)."""
    parser = argparse.ArgumentParser(
        prog="python -m gateway", description="Guichet: USSD/SMS gateway for city services."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((arg for arg in argv or () if not arg.startswith("-")), None)
    wanted = [COMMANDS[chosen]] if chosen in COMMANDS else COMMANDS.values()
    for module in dict.fromkeys(wanted):
        importlib.import_module(module).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit status."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        status: int = args.handler(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return status
