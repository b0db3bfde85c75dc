"""Create or upgrade the civic tables (idempotent) and record the schema version."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from civic.ports import BackendUnavailableError
from civic.sql_engine import DEFAULT_TIMEOUT, make_engine
from civic.sql_tables import (
    SCHEMA_VERSION,
    SEALED_LENGTH,
    citizens,
    metadata,
    requests,
    schema_version,
)


def migrate(database_url: str, *, timeout: float = DEFAULT_TIMEOUT) -> int:
    """Create or upgrade the civic tables (idempotent); return the schema version."""
    engine = make_engine(database_url, timeout=max(timeout, 10.0))
    try:
        migrate_engine(engine)
    except exc.SQLAlchemyError as error:
        raise BackendUnavailableError(f"cannot migrate the civic schema: {error}") from error
    finally:
        engine.dispose()
    return SCHEMA_VERSION


def migrate_engine(engine: Engine) -> None:
    """Create the civic tables on `engine` and record the schema version."""
    metadata.create_all(engine, checkfirst=True)
    add_missing_columns(engine, metadata)
    widen_sealed_columns(engine)
    add_missing_indexes(engine, metadata)
    with engine.begin() as conn:
        now = datetime.now(UTC)
        found = conn.execute(
            sa.select(schema_version.c.version).where(schema_version.c.component == "civic")
        ).scalar_one_or_none()
        if found is None:
            conn.execute(
                schema_version.insert().values(
                    component="civic", version=SCHEMA_VERSION, migrated_at=now
                )
            )
        elif found < SCHEMA_VERSION:
            conn.execute(
                schema_version.update()
                .where(schema_version.c.component == "civic")
                .values(version=SCHEMA_VERSION, migrated_at=now)
            )


def widen_sealed_columns(engine: Engine) -> None:
    """Give the ID-number columns of a version-2 table room for a sealed value (PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return  # SQLite does not enforce VARCHAR lengths
    with engine.begin() as conn:
        for table in (requests, citizens):
            conn.execute(
                sa.text(
                    f"ALTER TABLE {table.name} ALTER COLUMN id_number TYPE VARCHAR({SEALED_LENGTH})"
                )
            )


def add_missing_columns(engine: Engine, tables: sa.MetaData) -> None:
    """Add the nullable columns a newer version declared to tables an older one created."""
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in tables.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present or not column.nullable:
                    continue
                # Only nullable columns are ever added, so no default is needed.
                kind = column.type.compile(dialect=engine.dialect)
                conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def add_missing_indexes(engine: Engine, tables: sa.MetaData) -> None:
    """Create the indexes a newer version declared on tables an older one created."""
    with engine.begin() as conn:
        for table in tables.sorted_tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)
