"""`python -m gateway payments reconcile`: one reconciliation pass, for cron or by hand."""

from __future__ import annotations

import argparse
import json
import logging

from gateway import container as composition
from gateway.config import Settings
from payments.service import PaymentService


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `payments` command and its `reconcile` subcommand."""
    parser = commands.add_parser("payments", help="payments tools: reconcile")
    payments_commands = parser.add_subparsers(
        dest="payments_command", required=True, metavar="COMMAND"
    )
    reconcile = payments_commands.add_parser(
        "reconcile", help="query stuck intents, expire late ones, settle paid ones"
    )
    reconcile.set_defaults(handler=_reconcile)


def _reconcile(_args: argparse.Namespace) -> int:
    # The CLI is a composition root like the worker: it builds the process's container.
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level)
    services = composition.build(settings)
    report = services.get(PaymentService).reconcile()
    print(json.dumps(report.counts, sort_keys=True))
    return 0
