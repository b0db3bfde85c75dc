"""The audit log of access and erasure requests: what was done about a phone, when, why, by whom.

It holds the keyed phone hash (runtime.masking.phone_ref), never the number: the log proves a
request was answered without keeping what the erasure removed.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from civic.sql import UtcDateTime, make_engine

metadata = sa.MetaData()

audit = sa.Table(
    "personal_data_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("act", sa.String(16), nullable=False),  # export | erase | rotate
    sa.Column("phone_ref", sa.String(32), nullable=False, index=True),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("operator", sa.String(64), nullable=False),
    sa.Column("counts", sa.JSON, nullable=False),  # collector -> records exported or erased
)


def ensure(engine: Engine) -> None:
    """Create the audit table when `migrate` has not run yet: an answer is never lost."""
    metadata.create_all(engine, checkfirst=True)


def migrate(database_url: str) -> int:
    """Create the audit table (idempotent); return 1."""
    engine = make_engine(database_url, timeout=10.0)
    try:
        ensure(engine)
    finally:
        engine.dispose()
    return 1
