"""`python -m gateway personal-data`: a citizen's access and erasure requests, key rotation,
and the README's inventory and retention tables (personal_data.yaml).

    export --phone +243... [--out FILE]          everything held about the number, as JSON
    erase --phone +243... --reason TEXT          erase or anonymise it (audit-logged)
    rotate                                       re-seal ID numbers and dates of birth
    table [--write README.md]                    the inventory and retention tables
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from pathlib import Path
from typing import Final

import phonenumbers

from gateway.config import ConfigError, Settings
from gateway.container import personal_data_stores
from gateway.logsetup import configure_logging
from gateway.redis_client import build_redis
from personal_data import rights
from personal_data.collectors import Stores, build_collectors
from personal_data.inventory import load_inventory, render_inventory, render_retention
from personal_data.rotate import rotate
from runtime.masking import mask_phone

BEGIN: Final = (
    "<!-- personal-data:begin (python -m gateway personal-data table --write README.md) -->"
)
END: Final = "<!-- personal-data:end -->"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `personal-data` command and its actions."""
    parser = commands.add_parser(
        "personal-data", help="a citizen's access and erasure requests; key rotation; inventory"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write everything held about a phone as JSON")
    export.add_argument("--phone", required=True, help="E.164 number, e.g. +243810000001")
    export.add_argument("--out", default="", help="write to this file (default: stdout)")
    export.add_argument("--operator", default="", help="who answers (default: the OS user)")
    export.set_defaults(handler=handle_export)
    erase = actions.add_parser("erase", help="erase or anonymise what is held about a phone")
    erase.add_argument("--phone", required=True, help="E.164 number, e.g. +243810000001")
    erase.add_argument("--reason", required=True, help="the citizen's request (reference, date)")
    erase.add_argument("--operator", default="", help="who answers (default: the OS user)")
    erase.set_defaults(handler=handle_erase)
    rot = actions.add_parser("rotate", help="re-seal every sealed value with the first key")
    rot.set_defaults(handler=handle_rotate)
    table = actions.add_parser("table", help="print (or write into the README) the tables")
    table.add_argument("--write", metavar="README", help="replace the tables in this file")
    table.set_defaults(handler=handle_table)


def e164(raw: str) -> str:
    """Return `raw` as an E.164 number; raise ConfigError when it is not a possible one."""
    try:
        number = phonenumbers.parse(raw.strip(), None)
    except phonenumbers.NumberParseException:
        raise ConfigError(f"--phone {raw!r}: not an international number (+country...)") from None
    if not phonenumbers.is_possible_number(number):
        raise ConfigError(f"--phone {raw!r}: not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _stores(settings: Settings) -> Stores:
    configure_logging(settings)
    return personal_data_stores(settings, build_redis(settings))


def _operator(args: argparse.Namespace) -> str:
    return str(args.operator or getpass.getuser())


def handle_export(args: argparse.Namespace) -> int:
    """Print (or write) the JSON of everything held about the phone."""
    phone = e164(args.phone)
    stores = _stores(Settings.from_env())
    document = rights.export(stores, build_collectors(stores), phone, operator=_operator(args))
    body = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True)
    if args.out:
        Path(args.out).write_text(body + "\n", encoding="utf-8")
        print(f"wrote {args.out} ({mask_phone(phone)})", file=sys.stderr)
    else:
        print(body)
    return 0


def handle_erase(args: argparse.Namespace) -> int:
    """Erase or anonymise, then print what each store did."""
    phone = e164(args.phone)
    stores = _stores(Settings.from_env())
    try:
        counts = rights.erase(
            stores, build_collectors(stores), phone, reason=args.reason, operator=_operator(args)
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None
    print(f"erased {mask_phone(phone)}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def handle_rotate(_args: argparse.Namespace) -> int:
    """Re-seal every sealed value with the first PERSONAL_DATA_KEYS key."""
    stores = _stores(Settings.from_env())
    counts = rotate(stores.engine, stores.cipher)
    print("re-sealed: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def render_tables() -> str:
    """Return the README's inventory and retention tables."""
    inventory = load_inventory()
    defaults = {f.metadata["env"]: f.default for f in dataclasses.fields(Settings)}
    return (
        "Where it is kept:\n\n"
        + render_inventory(inventory)
        + "\n\nFor how long:\n\n"
        + render_retention(inventory, defaults)
    )


def replace_tables(text: str) -> str:
    """Return `text` with the tables between the markers regenerated."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError("the personal-data markers are missing")
    return text[: start + len(BEGIN)] + "\n" + render_tables() + "\n" + text[end:]


def handle_table(args: argparse.Namespace) -> int:
    """Print the tables, or rewrite them between the README's markers."""
    if args.write is None:
        print(render_tables())
        return 0
    path = Path(args.write)
    try:
        path.write_text(replace_tables(path.read_text(encoding="utf-8")), encoding="utf-8")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
