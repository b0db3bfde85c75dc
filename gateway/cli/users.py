"""`python -m gateway users add|disable|reset`: the console's staff accounts, from a shell.

Passwords never go on the command line (shell history, `ps`): `add` reads one from stdin or
asks for it; `reset` makes a random one, prints it once and makes the person change it.
Every change is written to the staff audit log as `cli:<login of the shell user>`.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from civic.sql import make_engine
from gateway.config import Settings
from gateway.console.accounts import AccountError, Role, StaffStore, parse_offices
from gateway.console.audit import AuditLog


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `users` command and its subcommands."""
    parser = commands.add_parser("users", help="staff accounts of the console (/console)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create an account (password read from stdin or asked)")
    add.add_argument("email")
    add.add_argument("--name", required=True, help="the person's name as colleagues see it")
    add.add_argument("--role", choices=[r.label for r in Role], default="agent")
    add.add_argument("--offices", default="", help="comma-separated office ids an agent serves")
    add.add_argument("--password-stdin", action="store_true", help="read the password on stdin")
    disable = actions.add_parser("disable", help="stop an account from logging in")
    disable.add_argument("email")
    reset = actions.add_parser("reset", help="set a random password, to change at next login")
    reset.add_argument("email")
    parser.set_defaults(handler=handle)


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def handle(args: argparse.Namespace) -> int:
    """Run one users action; print what was done, or why not on stderr (status 2)."""
    settings = Settings.from_env()
    engine = make_engine(settings.database_url, timeout=10.0)
    store, audit = StaffStore(engine), AuditLog(engine)
    try:
        if args.action == "add":
            user = store.add(
                args.email,
                name=args.name,
                role=Role.named(args.role),
                offices=parse_offices(args.offices),
                password=_password(args),
            )
            detail = f"role={user.role.label} offices={','.join(sorted(user.offices))}"
            print(f"added {user.email} ({detail}); they change this password at their first login")
        elif args.action == "disable":
            user = store.disable(args.email)
            detail = ""
            print(f"disabled {user.email}: their sessions end at their next click")
        else:
            password = secrets.token_urlsafe(12)
            user = store.reset(args.email, password)
            detail = "random password, change required"
            print(f"new password for {user.email}: {password} (they must change it at login)")
        audit.append(_operator(), f"user.{args.action}", target=user.email, detail=detail)
    except (AccountError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0
