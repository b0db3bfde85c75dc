"""`python -m gateway run`: the development runner behind `make run`."""

from __future__ import annotations

import argparse
import os

from gateway import devserver


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `run` command."""
    parser = commands.add_parser(
        "run", help="migrate, seed the demo city, then run web + worker on 127.0.0.1"
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT") or 8000), help="default $PORT"
    )
    parser.add_argument(
        "--emulate-redis",
        action="store_true",
        help="no Redis at hand: one process, fakeredis, jobs run inline (loud warning)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the gateway until Ctrl-C."""
    return devserver.run(args.port, emulate_redis=args.emulate_redis)
