"""The console's SQL tables on DATABASE_URL: staff accounts and the staff audit log.

The audit log is append-only in the database itself: a trigger refuses every UPDATE and
DELETE (SQLite and PostgreSQL), so neither our code nor a hurried `psql` can rewrite who did
what. The only code path (gateway.console.audit.AuditLog) inserts and reads.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from civic.sql import UtcDateTime, make_engine

metadata = sa.MetaData()

MAX_EMAIL: Final = 64  # the email is the agent id written in a request's history (64 chars)

staff_users = sa.Table(
    "staff_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(MAX_EMAIL), nullable=False, unique=True),
    sa.Column("display_name", sa.String(80), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # agent | supervisor | admin
    sa.Column("offices", sa.String(400), nullable=False, default=""),  # comma-separated ids
    sa.Column("password_hash", sa.String(200), nullable=False),  # argon2id, never the password
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("must_change", sa.Boolean, nullable=False, default=False),  # after a reset
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("password_changed_at", UtcDateTime, nullable=False),
)

staff_audit = sa.Table(
    "staff_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(MAX_EMAIL), nullable=False, index=True),  # email, or cli:<user>
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("target", sa.String(120), nullable=False, default=""),  # a reference, an email...
    sa.Column("detail", sa.Text, nullable=False, default=""),  # e.g. the decision and reason
    sa.Column("client_ip", sa.String(64), nullable=False, default=""),
)

_SQLITE_GUARDS: Final = tuple(
    f"CREATE TRIGGER IF NOT EXISTS staff_audit_no_{verb.lower()} BEFORE {verb} ON staff_audit "
    "BEGIN SELECT RAISE(ABORT, 'staff_audit is append-only'); END"
    for verb in ("UPDATE", "DELETE")
)
_POSTGRES_GUARDS: Final = (
    "CREATE OR REPLACE FUNCTION staff_audit_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'staff_audit is append-only'; END $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS staff_audit_no_change ON staff_audit",
    "CREATE TRIGGER staff_audit_no_change BEFORE UPDATE OR DELETE ON staff_audit "
    "FOR EACH ROW EXECUTE FUNCTION staff_audit_append_only()",
)


def _guard(connection: Connection) -> None:
    dialect = connection.dialect.name
    statements = _SQLITE_GUARDS if dialect == "sqlite" else ()
    if dialect == "postgresql":
        statements = _POSTGRES_GUARDS
    for statement in statements:
        connection.exec_driver_sql(statement)


def ensure(engine: Engine) -> None:
    """Create the tables and the audit log's append-only triggers (idempotent)."""
    metadata.create_all(engine, checkfirst=True)
    with engine.begin() as connection:
        _guard(connection)


def migrate(database_url: str) -> int:
    """Create the console's tables (`python -m gateway migrate`); return 1."""
    engine = make_engine(database_url, timeout=10.0)
    try:
        ensure(engine)
    finally:
        engine.dispose()
    return 1
