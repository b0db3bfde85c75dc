"""`python -m gateway migrate` and `seed-demo`: every package's SQL tables and the demo city."""

from __future__ import annotations

import argparse

from gateway.config import Settings
from gateway.schema import migrate_all, seed_demo


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `migrate` and `seed-demo` commands."""
    migrate = commands.add_parser("migrate", help="create or migrate every SQL table")
    migrate.set_defaults(handler=lambda _args: migrate_all(Settings.from_env()))
    seed = commands.add_parser("seed-demo", help="load the demo city into the database")
    seed.set_defaults(handler=lambda _args: seed_demo(Settings.from_env()))
