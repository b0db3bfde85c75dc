"""`python -m payments reconcile`: one reconciliation pass, for cron or by hand."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the payments command line."""
    parser = argparse.ArgumentParser(prog="python -m payments")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("reconcile", help="query stuck intents, expire late ones, settle paid ones")
    args = parser.parse_args(argv)
    # The CLI is a composition root like the worker: it builds the process's container.
    from gateway import container as composition  # noqa: PLC0415
    from gateway.config import Settings  # noqa: PLC0415
    from payments.service import PaymentService  # noqa: PLC0415

    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level)
    services = composition.build(settings)
    if args.command == "reconcile":
        report = services.get(PaymentService).reconcile()
        print(json.dumps(report.counts, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
