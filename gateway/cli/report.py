"""`python -m gateway report funnel`: where USSD sessions go and where they are abandoned."""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime

from gateway.config import ConfigError, Settings
from gateway.funnel import build, table
from gateway.funnel_chart import chart
from gateway.redis_client import build_redis
from gateway.ussd_events import SessionEvents
from menus.loader import load_menus

_RELATIVE = re.compile(r"^(\d+)([mhd])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `report` command."""
    parser = commands.add_parser("report", help="reports from stored USSD session events")
    reports = parser.add_subparsers(dest="report", required=True, metavar="REPORT")
    funnel = reports.add_parser("funnel", help="per journey: screens reached and abandoned")
    funnel.add_argument(
        "--since", default="", help="ISO date/time (UTC) or a duration back: 30m, 24h, 7d"
    )
    funnel.add_argument("--png", default="", help="also write a bar chart to this PNG file")
    funnel.set_defaults(handler=handle)


def since_ms(text: str, now: float | None = None) -> int:
    """Return epoch milliseconds of `--since` (0 when empty); raise ConfigError when bad."""
    if not text:
        return 0
    now = time.time() if now is None else now
    relative = _RELATIVE.match(text.strip())
    if relative:
        return int((now - int(relative[1]) * _UNIT_SECONDS[relative[2]]) * 1000)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since: cannot read {text!r} (2025-01-31, 2025-01-31T10:00, 7d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def handle(args: argparse.Namespace) -> int:
    """Print the funnel table; write the chart with --png."""
    settings = Settings.from_env()
    spec = load_menus(settings.menus_path)
    events = SessionEvents(build_redis(settings), region=spec.city.country)
    funnel = build(events.read(since_ms(args.since)), spec.start)
    sys.stdout.write(table(funnel))
    if args.png:
        chart(funnel, args.png)
        print(f"chart written to {args.png}")
    return 0
