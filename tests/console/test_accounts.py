"""Staff accounts (argon2id, lockout, reset, disable), the append-only audit log, `users`."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from civic.sql import make_engine
from gateway import golive
from gateway.cli import main
from gateway.config import Settings
from gateway.console import audit as audit_module
from gateway.console.accounts import (
    DEMO_PASSWORD,
    MAX_FAILURES,
    AccountError,
    Role,
    StaffStore,
)
from gateway.console.audit import AuditLog
from gateway.console.tables import staff_users
from gateway.schema import migrate_all, seed_demo
from tests.civic.conftest import PG_DSN, _postgres_reason

PASSWORD = "correct-horse-battery"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Yield an engine on a fresh SQLite file or PostgreSQL schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'staff.db'}"
        schema = None
    else:
        reason = _postgres_reason()
        if reason is not None:
            pytest.skip(reason)
        schema = f"console_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    made = make_engine(url)
    yield made
    made.dispose()
    if schema is not None:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_a_password_is_stored_as_an_argon2id_hash_and_checked(engine: Engine) -> None:
    store = StaffStore(engine)
    user = store.add("Ana@Goma.cd", name="Ana", role=Role.AGENT, offices=["townhall"],
                     password=PASSWORD)  # fmt: skip
    assert (user.email, user.role, user.offices) == ("ana@goma.cd", Role.AGENT, {"townhall"})
    with engine.connect() as conn:
        stored = conn.execute(sa.select(staff_users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert store.authenticate("ana@goma.cd", PASSWORD).reason == "ok"
    assert store.authenticate("ana@goma.cd", "wrong-password-1").reason == "wrong_password"
    assert store.authenticate("nobody@goma.cd", PASSWORD).reason == "unknown"


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short-1", "at least 12"),
        ("password1234", "too common"),
        ("ANA@goma.city", "too common"),  # the email itself
    ],
)
def test_weak_passwords_are_refused(engine: Engine, password: str, why: str) -> None:
    with pytest.raises(AccountError, match=why):
        StaffStore(engine).add("ana@goma.city", name="Ana", role=Role.AGENT, offices=[],
                               password=password)  # fmt: skip


def test_the_account_locks_after_repeated_failures_even_with_the_right_password(
    engine: Engine,
) -> None:
    store = StaffStore(engine)
    store.add("ana@goma.cd", name="Ana", role=Role.AGENT, offices=[], password=PASSWORD)
    reasons = [store.authenticate("ana@goma.cd", "wrong-password-1").reason
               for _ in range(MAX_FAILURES)]  # fmt: skip
    assert reasons == ["wrong_password"] * (MAX_FAILURES - 1) + ["locked"]
    assert store.authenticate("ana@goma.cd", PASSWORD).reason == "locked"
    # An admin's reset unlocks it and asks for a new password at the next login.
    store.reset("ana@goma.cd", "a-fresh-password-2")
    result = store.authenticate("ana@goma.cd", "a-fresh-password-2")
    assert result.reason == "ok" and result.user is not None and result.user.must_change


def test_a_disabled_account_cannot_log_in(engine: Engine) -> None:
    store = StaffStore(engine)
    store.add("ana@goma.cd", name="Ana", role=Role.AGENT, offices=[], password=PASSWORD)
    store.disable("ana@goma.cd")
    assert store.authenticate("ana@goma.cd", PASSWORD).reason == "disabled"


def test_the_audit_log_is_append_only_in_the_database(engine: Engine) -> None:
    log = AuditLog(engine)
    log.append("ana@goma.cd", "request.decide", target="10000012", client_ip="10.0.0.7")
    # No code path changes an entry...
    assert not [name for name in vars(AuditLog) if name.startswith(("update", "delete", "remove",
                "erase", "edit", "purge"))]  # fmt: skip
    assert "update(" not in Path(audit_module.__file__).read_text(encoding="utf-8")
    # ...and the database refuses a hand-written one.
    for statement in ("UPDATE staff_audit SET actor = 'someone-else'", "DELETE FROM staff_audit"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))
    (entry,) = log.recent()
    assert (entry.actor, entry.action, entry.target, entry.client_ip) == (
        "ana@goma.cd", "request.decide", "10000012", "10.0.0.7")  # fmt: skip


def test_users_command_adds_resets_disables_and_audits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "ana@goma.cd", "--name", "Ana", "--offices", "townhall",
                 "--password-stdin"]) == 0  # fmt: skip
    assert main(["users", "reset", "ana@goma.cd"]) == 0
    new_password = capsys.readouterr().out.split("new password for ana@goma.cd: ")[1].split()[0]
    assert main(["users", "disable", "ana@goma.cd"]) == 0
    assert main(["users", "disable", "nobody@goma.cd"]) == 2
    assert "no account nobody@goma.cd" in capsys.readouterr().err
    engine = make_engine(url)
    try:
        store = StaffStore(engine)
        assert store.authenticate("ana@goma.cd", new_password).reason == "disabled"
        actions = [e.action for e in AuditLog(engine).recent()]
    finally:
        engine.dispose()
    assert actions == ["user.disable", "user.reset", "user.add"]


def test_seed_demo_creates_the_demo_accounts_and_production_refuses_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    settings = Settings(database_url=url)
    out = io.StringIO()
    migrate_all(settings, out)
    seed_demo(settings, out)
    assert "agent@demo.city and supervisor@demo.city, password demo-password" in out.getvalue()
    engine = make_engine(url)
    try:
        store = StaffStore(engine)
        assert store.authenticate("agent@demo.city", DEMO_PASSWORD).reason == "ok"
        problems = golive.staff_problems(settings, unreachable_is_problem=True)
        assert problems == [
            "staff accounts: agent@demo.city, supervisor@demo.city (demo accounts, password "
            "published in the README): `python -m gateway users disable <email>`"
        ]
        store.disable("agent@demo.city")
        store.disable("supervisor@demo.city")
    finally:
        engine.dispose()
    assert golive.staff_problems(settings, unreachable_is_problem=True) == []
