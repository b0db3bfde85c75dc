"""Every package's SQL tables and the demo city: the steps behind `migrate` and `seed-demo`."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from sqlalchemy.engine import make_url

from gateway.config import ConfigError, Settings


@dataclass(frozen=True, slots=True)
class Step:
    """One package's idempotent function taking the database URL."""

    label: str
    module: str
    func: str


MIGRATIONS: Final = (
    Step("civic tables", "civic.sql", "migrate"),
    Step("payment tables", "payments.store", "migrate"),
    Step("sms tables (message log, preferences)", "sms.tables", "migrate"),
)
SEEDS: Final = (Step("demo city", "civic.seed", "seed_demo"),)


def migrate_all(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run every package's migration on DATABASE_URL."""
    ensure_sqlite_directory(settings.database_url)
    return run_steps(MIGRATIONS, settings.database_url, out)


def seed_demo(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Load the demo city on DATABASE_URL (idempotent); never in production."""
    if settings.env == "production":
        # Production refuses to start on this data (gateway/golive.py): never write it there.
        raise ConfigError("seed-demo loads play data: production refuses it")
    ensure_sqlite_directory(settings.database_url)
    return run_steps(SEEDS, settings.database_url, out)


def run_steps(steps: Sequence[Step], url: str, out: TextIO) -> int:
    """Run each step on `url`, saying what ran and what is not in this tree."""
    for step in steps:
        func = _load(step)
        if func is None:
            print(f"skipped {step.label}: {step.module} is not part of this tree", file=out)
            continue
        func(url)
        print(f"{step.label}: ok", file=out)
    return 0


def ensure_sqlite_directory(url: str) -> None:
    """Create the directory of a SQLite file URL (the default lives in var/)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _load(step: Step) -> Callable[[str], object] | None:
    # The packages are built in parallel: a package that has not landed yet is skipped, but
    # any other import failure (a bug in a package that exists) must stop the command.
    try:
        module = importlib.import_module(step.module)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if step.module == missing or step.module.startswith(missing + "."):
            return None
        raise
    func: Callable[[str], object] = getattr(module, step.func)
    return func
