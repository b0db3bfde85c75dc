"""Engines with short timeouts, and the guard that turns any database failure into
BackendUnavailableError, so a USSD hop shows "try again later" instead of dying or hanging."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Engine, make_url

from civic.ports import BackendUnavailableError

DEFAULT_TIMEOUT: Final = 2.0

P = ParamSpec("P")
R = TypeVar("R")


def make_engine(
    database_url: str, *, timeout: float = DEFAULT_TIMEOUT, connect_timeout: float | None = None
) -> Engine:
    """Return an engine with short timeouts; create a SQLite file's parent directory."""
    url = make_url(database_url)
    connect_timeout = timeout if connect_timeout is None else connect_timeout
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": timeout}, pool_timeout=timeout)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() == "postgresql":
        # Keep any options the URL carries (tests pass a search_path) and add the timeout.
        options = str(url.query.get("options", ""))
        options = f"{options} -c statement_timeout={int(timeout * 1000)}".strip()
        return sa.create_engine(
            url,
            connect_args={
                "connect_timeout": max(1, math.ceil(connect_timeout)),
                "options": options,
            },
            pool_timeout=timeout,
            pool_pre_ping=True,
        )
    return sa.create_engine(url, pool_timeout=timeout)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web and worker processes read while the other writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Turn database failures into BackendUnavailableError."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (exc.DBAPIError, exc.TimeoutError, exc.ResourceClosedError) as error:
            raise BackendUnavailableError(
                f"back office database error: {type(error).__name__}"
            ) from error

    return wrapper
