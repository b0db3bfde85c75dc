"""Staff accounts: one per person, a role, the offices served, an argon2id password hash.

Passwords are hashed with argon2-cffi's PasswordHasher (argon2id, its RFC 9106 defaults):
people choose passwords, so they need a slow, salted, memory-hard hash, unlike the long random
API keys (gateway/auth.py) for which SHA-256 is enough. Five wrong passwords in a row lock the
account for LOCK_MINUTES whatever the address (the per-address limit is in the login view).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Final

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from gateway.console.tables import MAX_EMAIL, ensure, staff_users

MAX_FAILURES: Final = 5  # wrong passwords in a row before the account locks
LOCK_MINUTES: Final = 15
MIN_PASSWORD: Final = 12
DEMO_PASSWORD: Final = "demo-password"  # noqa: S105 - published in the README, refused live
# `make run` creates these (README); production refuses to start while any exists.
DEMO_ACCOUNTS: Final = {
    "agent@demo.city": ("Demo agent", "agent", ("townhall",)),
    "supervisor@demo.city": ("Demo supervisor", "supervisor", ()),
}
_EMAIL: Final = re.compile(r"[^@\s,:]+@[^@\s,:]+\.[^@\s,:]+")
_OFFICE: Final = re.compile(r"[a-z0-9_-]{1,40}")
# A few of the most common passwords: refused whatever their length (Notify admin does so too).
COMMON_PASSWORDS: Final = frozenset(
    {"password1234", "123456789012", "qwertyuiop12", "motdepasse12", "azertyuiop12"}
)


class Role(IntEnum):
    """What a staff member may do; a higher role may do everything a lower one may."""

    AGENT = 1
    SUPERVISOR = 2
    ADMIN = 3

    @classmethod
    def named(cls, name: str) -> Role:
        """Return the role called `name` (agent, supervisor, admin); raise ValueError."""
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"role must be agent, supervisor or admin, not {name!r}") from None

    @property
    def label(self) -> str:
        """Return the role's lowercase name."""
        return self.name.lower()


class AccountError(ValueError):
    """A staff account cannot be created or changed as asked; the message says why.

    `key` names the console's text for it (texts.yaml `account_<key>`).
    """

    def __init__(self, message: str, key: str = "invalid") -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, slots=True)
class StaffUser:
    """One staff member as the console sees them (never the hash)."""

    id: int
    email: str
    display_name: str
    role: Role
    offices: frozenset[str]
    disabled: bool
    must_change: bool
    locked_until: datetime | None
    password_changed_at: datetime

    @property
    def all_offices(self) -> bool:
        """Supervisors and admins see every office; an agent only those they serve."""
        return self.role >= Role.SUPERVISOR

    def sees_office(self, office_id: str | None) -> bool:
        """Tell whether this person may see a request handled by `office_id`."""
        return self.all_offices or (office_id is not None and office_id in self.offices)


@dataclass(frozen=True, slots=True)
class LoginResult:
    """What a login attempt did: the user when it succeeded, else why not."""

    user: StaffUser | None
    reason: str  # ok | unknown | wrong_password | locked | disabled


def check_password(password: str, email: str = "") -> None:
    """Raise AccountError when `password` is too weak to be a staff password."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters", "too_short")
    if password.lower() in COMMON_PASSWORDS or (email and password.lower() == email.lower()):
        raise AccountError("this password is too common", "too_common")


def parse_offices(text: str | Iterable[str]) -> frozenset[str]:
    """Return the office ids of `a,b` (or an iterable); raise AccountError on a bad id."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    found = frozenset(p.strip() for p in parts if p.strip())
    bad = sorted(o for o in found if not _OFFICE.fullmatch(o))
    if bad:
        raise AccountError(f"not an office id: {', '.join(bad)}")
    return found


def _now() -> datetime:
    return datetime.now(UTC)


class StaffStore:
    """Staff accounts in SQL: create, authenticate, lock, disable, reset, change passwords."""

    def __init__(self, engine: Engine, hasher: PasswordHasher | None = None) -> None:
        self._engine = engine
        self._hasher = hasher or PasswordHasher()
        self._ready = False

    @property
    def engine(self) -> Engine:
        """Return the database engine (the audit log shares it)."""
        return self._engine

    def _ensure(self) -> None:
        # A console opened before `migrate` still works: create the tables on first use.
        if not self._ready:
            ensure(self._engine)
            self._ready = True

    def add(
        self,
        email: str,
        *,
        name: str,
        role: Role,
        offices: Iterable[str],
        password: str,
        must_change: bool = True,
    ) -> StaffUser:
        """Create an account; raise AccountError when the email is taken or a field is bad."""
        email = email.strip().lower()
        if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email):
            raise AccountError(f"not an email address of at most {MAX_EMAIL} characters")
        if not name.strip() or len(name) > 80:
            raise AccountError("a name of 1 to 80 characters")
        if email not in DEMO_ACCOUNTS:
            check_password(password, email)
        self._ensure()
        now = _now()
        with self._engine.begin() as conn:
            taken = conn.execute(sa.select(staff_users.c.id).where(staff_users.c.email == email))
            if taken.first() is not None:
                raise AccountError(f"{email} already has an account")
            conn.execute(
                staff_users.insert().values(
                    email=email,
                    display_name=name.strip(),
                    role=role.label,
                    offices=",".join(sorted(parse_offices(offices))),
                    password_hash=self._hasher.hash(password),
                    disabled=False,
                    must_change=must_change,
                    failed_logins=0,
                    created_at=now,
                    password_changed_at=now,
                )
            )
        found = self.get_by_email(email)
        assert found is not None  # inserted just above
        return found

    def get_by_email(self, email: str) -> StaffUser | None:
        """Return the account of `email`, or None."""
        self._ensure()
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(staff_users).where(staff_users.c.email == email.strip().lower())
            ).first()
        return _user(row) if row is not None else None

    def get(self, user_id: int) -> StaffUser | None:
        """Return the account with id `user_id`, or None."""
        self._ensure()
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(staff_users).where(staff_users.c.id == user_id)).first()
        return _user(row) if row is not None else None

    def emails(self) -> list[str]:
        """Return every account's email (enabled or not), sorted."""
        self._ensure()
        with self._engine.connect() as conn:
            return sorted(conn.execute(sa.select(staff_users.c.email)).scalars())

    def authenticate(self, email: str, password: str) -> LoginResult:
        """Check a password; count a failure, lock after MAX_FAILURES, reset on success."""
        self._ensure()
        now = _now()
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(staff_users).where(staff_users.c.email == email.strip().lower())
            ).first()
            if row is None:
                # Spend the same time as a real check: timing must not tell who has an account.
                self._verify(_dummy_hash(), password)
                return LoginResult(None, "unknown")
            user = _user(row)
            if user.disabled:
                return LoginResult(None, "disabled")
            if user.locked_until is not None and user.locked_until > now:
                return LoginResult(None, "locked")
            if not self._verify(row.password_hash, password):
                failures = row.failed_logins + 1
                locked = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
                conn.execute(
                    staff_users.update()
                    .where(staff_users.c.id == user.id)
                    .values(
                        failed_logins=0 if locked else failures,
                        locked_until=locked or row.locked_until,
                    )
                )
                return LoginResult(None, "locked" if locked else "wrong_password")
            values: dict[str, object] = {"failed_logins": 0, "locked_until": None}
            if self._hasher.check_needs_rehash(row.password_hash):
                values["password_hash"] = self._hasher.hash(password)
            conn.execute(staff_users.update().where(staff_users.c.id == user.id).values(values))
        return LoginResult(self.get(user.id), "ok")

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def change_password(self, user_id: int, current: str, new: str) -> None:
        """Change a password after checking the current one; raise AccountError."""
        self._ensure()
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(staff_users).where(staff_users.c.id == user_id)).first()
        if row is None or not self._verify(row.password_hash, current):
            raise AccountError("the current password is wrong", "wrong_current")
        if new == current:
            raise AccountError("the new password must differ from the current one", "same")
        check_password(new, row.email)
        self._set_password(user_id, new, must_change=False)

    def reset(self, email: str, password: str) -> StaffUser:
        """Set a new password chosen by an admin; the person must change it at next login."""
        user = self._existing(email)
        check_password(password, user.email)
        self._set_password(user.id, password, must_change=True)
        return user

    def disable(self, email: str) -> StaffUser:
        """Disable an account: it can no longer log in (its history stays)."""
        user = self._existing(email)
        with self._engine.begin() as conn:
            conn.execute(
                staff_users.update().where(staff_users.c.id == user.id).values(disabled=True)
            )
        return user

    def _existing(self, email: str) -> StaffUser:
        user = self.get_by_email(email)
        if user is None:
            raise AccountError(f"no account {email.strip().lower()}")
        return user

    def _set_password(self, user_id: int, password: str, *, must_change: bool) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                staff_users.update()
                .where(staff_users.c.id == user_id)
                .values(
                    password_hash=self._hasher.hash(password),
                    must_change=must_change,
                    failed_logins=0,
                    locked_until=None,
                    password_changed_at=_now(),
                )
            )

    def demo_accounts(self) -> list[str]:
        """Return the enabled demo accounts (production refuses to start while any is)."""
        if not sa.inspect(self._engine).has_table(staff_users.name):
            return []  # a check must not create tables
        with self._engine.connect() as conn:
            found = conn.execute(
                sa.select(staff_users.c.email).where(
                    staff_users.c.email.in_(list(DEMO_ACCOUNTS)), sa.not_(staff_users.c.disabled)
                )
            )
            return sorted(found.scalars())

    def seed_demo(self, agent_offices: tuple[str, ...] | None = None) -> list[str]:
        """Create the demo accounts that are missing; return the ones created.

        `agent_offices`: the offices the demo agent serves (the city pack's first office by
        `seed-demo`; each pack names its own), else DEMO_ACCOUNTS' own.
        """
        created = []
        for email, (name, role, default_offices) in DEMO_ACCOUNTS.items():
            offices = default_offices
            if agent_offices is not None and Role.named(role) is Role.AGENT:
                offices = agent_offices
            if self.get_by_email(email) is None:
                self.add(
                    email,
                    name=name,
                    role=Role.named(role),
                    offices=offices,
                    password=DEMO_PASSWORD,
                    must_change=False,
                )
                created.append(email)
        return created


@functools.cache
def _dummy_hash() -> str:
    # Made at the first unknown email, not at import: a hash costs real time (it should).
    return PasswordHasher().hash("not a password of anyone")


def _user(row: sa.Row[object]) -> StaffUser:
    m = row._mapping
    return StaffUser(
        id=int(m["id"]),
        email=str(m["email"]),
        display_name=str(m["display_name"]),
        role=Role.named(str(m["role"])),
        offices=frozenset(o for o in str(m["offices"]).split(",") if o),
        disabled=bool(m["disabled"]),
        must_change=bool(m["must_change"]),
        locked_until=m["locked_until"],
        password_changed_at=m["password_changed_at"],
    )
