"""Every package's SQL tables and the demo city: the steps behind `migrate` and `seed-demo`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final, TextIO

from sqlalchemy.engine import make_url

from civic import seed
from civic import sql as civic_sql
from civic.sql import add_missing_columns, make_engine
from gateway.config import ConfigError, Settings
from gateway.console import tables as console_tables
from gateway.console.accounts import DEMO_ACCOUNTS, DEMO_PASSWORD, StaffStore
from payments.store import SQL_TIMEOUT_SECONDS
from payments.tables import metadata as payment_tables
from personal_data import tables as personal_data_tables
from sms import tables as sms_tables


@dataclass(frozen=True, slots=True)
class Step:
    """One package's idempotent function taking the database URL."""

    label: str
    func: Callable[[str], object]


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
    # The city pack's catalogue (CITY, or CATALOGUE_PATH).
    catalogue = Path(settings.catalogue_path)
    # The demo agent serves the pack's first office: each pack names its own offices.
    offices = seed.load_city(catalogue).get("offices") or []
    agent_offices = (str(offices[0]["id"]),) if offices else ()
    steps = [
        Step(f"demo city ({catalogue.parent.name})", partial(seed.seed_demo, path=catalogue)),
        Step(
            f"console demo accounts {' and '.join(DEMO_ACCOUNTS)}, password {DEMO_PASSWORD} "
            f"(agent of {', '.join(agent_offices) or 'no office'}; "
            "http://127.0.0.1:$PORT/console)",
            partial(seed_demo_staff, agent_offices=agent_offices),
        ),
    ]
    return run_steps(steps, settings.database_url, out)


def migrate_payments(database_url: str) -> None:
    """Create the payments tables and add the columns a newer version declared (idempotent)."""
    engine = make_engine(database_url, timeout=SQL_TIMEOUT_SECONDS)
    try:
        payment_tables.create_all(engine, checkfirst=True)
        add_missing_columns(engine, payment_tables)
        # create_all adds missing tables only: an index a newer version declared on an
        # existing table is created here.
        for table in payment_tables.sorted_tables:
            for index in table.indexes:
                index.create(engine, checkfirst=True)
    finally:
        engine.dispose()


MIGRATIONS: Final = (
    Step("civic tables", civic_sql.migrate),
    Step("payment tables", migrate_payments),
    Step("sms tables (message log, preferences)", sms_tables.migrate),
    Step("personal data audit", personal_data_tables.migrate),
    Step("console staff accounts and audit log", console_tables.migrate),
)


def seed_demo_staff(database_url: str, agent_offices: tuple[str, ...] | None = None) -> None:
    """Create the console's demo accounts when missing (production refuses them)."""
    engine = make_engine(database_url, timeout=10.0)
    try:
        StaffStore(engine).seed_demo(agent_offices)
    finally:
        engine.dispose()


def run_steps(steps: Sequence[Step], url: str, out: TextIO) -> int:
    """Run each step on `url`, saying what ran."""
    for step in steps:
        step.func(url)
        print(f"{step.label}: ok", file=out)
    return 0


def ensure_sqlite_directory(url: str) -> None:
    """Create the directory of a SQLite file URL (the default lives in var/)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
