"""`python -m gateway worker`: the rq worker (Procfile `worker:`)."""

from __future__ import annotations

import argparse

from gateway.config import Settings
from gateway.queues import QueueNames
from gateway.worker import DEFAULT_WORKER_CLASS, WORKER_CLASSES, parse_queues, run_worker


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `worker` command."""
    parser = commands.add_parser(
        "worker", help="run an rq worker (with its scheduler) on the given queues"
    )
    parser.add_argument(
        "--queues",
        default=",".join(QueueNames.all()),
        help="comma-separated, highest priority first (default: %(default)s)",
    )
    parser.add_argument("--burst", action="store_true", help="stop once the queues are empty")
    parser.add_argument(
        "--worker-class",
        choices=sorted(WORKER_CLASSES),
        default=DEFAULT_WORKER_CLASS,
        help="fork a horse per job, or run jobs in this process (default: %(default)s)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the worker until it is stopped (or the queues are empty with --burst)."""
    run_worker(
        Settings.from_env(),
        parse_queues(args.queues),
        burst=args.burst,
        worker_class=args.worker_class,
    )
    return 0
