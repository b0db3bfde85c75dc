"""`python -m sms ...`: templates check, outbox, scrub-log, broadcast."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sms.check import check, format_report
from sms.templates import TemplateError, load

if TYPE_CHECKING:
    import redis

    from gateway.config import Settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m sms", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    templates = commands.add_parser("templates", help="template tools")
    templates_commands = templates.add_subparsers(dest="action", required=True)
    checker = templates_commands.add_parser("check", help="encoding and segments per template")
    checker.add_argument("file", nargs="?", default=None, help="default: SMS_TEMPLATES_PATH")

    outbox = commands.add_parser("outbox", help="what the console provider sent, newest first")
    outbox.add_argument("--phone", help="E.164 number to filter on")
    outbox.add_argument("--limit", type=int, default=20)
    outbox.add_argument("--json", action="store_true", help="one JSON document")
    outbox.add_argument(
        "--refused",
        action="store_true",
        help="messages refused (budget, STOP, country), any provider",
    )

    commands.add_parser(
        "scrub-log", help="forget numbers and texts of sent messages (once, after an upgrade)"
    )

    broadcast = commands.add_parser("broadcast", help="send a notice to every phone of a CSV")
    broadcast.add_argument("--template", required=True)
    broadcast.add_argument("--to", required=True, type=Path, help="CSV with a phone column")
    broadcast.add_argument("--param", action="append", default=[], help="k=v for every row")
    broadcast.add_argument("--id", help="broadcast id (default: derived from the inputs)")
    broadcast.add_argument("--limit", type=int, help="stop after this many rows (resumable)")

    args = parser.parse_args(argv)
    if args.command == "templates":
        return _templates_check(args.file)
    if args.command == "outbox":
        if args.refused:
            return _refused(args.limit, as_json=args.json)
        return _outbox(args.phone, args.limit, as_json=args.json)
    if args.command == "scrub-log":
        return _scrub_log()
    return _broadcast(args)


def _settings() -> Settings:
    # The CLI is an entry point like the web app: it reads the same settings.
    from gateway.config import Settings  # noqa: PLC0415

    return Settings.from_env()


def _redis() -> redis.Redis:
    # The installation's Redis as the web app opens it (topology, key prefix).
    from gateway.redis_client import build_redis  # noqa: PLC0415

    return build_redis(_settings())


def _templates_check(path: str | None) -> int:
    file = path or _settings().sms_templates_path
    try:
        book = load(file)
    except TemplateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = check(book)
    print(format_report(report, apply_policy=book.transliteration.apply))
    return 0 if report.ok else 1


def _outbox(phone: str | None, limit: int, *, as_json: bool) -> int:
    from sms.providers.console import as_dict, read_outbox  # noqa: PLC0415

    client = _redis()
    entries = read_outbox(client, phone=phone, limit=limit)
    if as_json:
        print(json.dumps([as_dict(e) for e in entries], ensure_ascii=False, indent=2))
        return 0
    for entry in entries:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.at))
        print(f"{stamp}  {entry.to}  {entry.text}")
    if not entries:
        print("(outbox empty)", file=sys.stderr)
    return 0


def _refused(limit: int, *, as_json: bool) -> int:
    from sms.store import MessageStore  # noqa: PLC0415

    refused = MessageStore(_redis()).refused(limit)
    rows = [
        {
            "message_id": m.id,
            "at": m.created_at,
            "phone": m.phone_masked,  # the log never holds the full number of a refused SMS
            "template": m.template,
            "class": "essential" if m.essential else "notice",
            "reason": m.reason,
        }
        for m in refused
    ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for row in rows:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(str(row["at"]))))
        print(f"{stamp}  {row['phone']}  {row['template']} ({row['class']})  {row['reason']}")
    if not rows:
        print("(no refused message)", file=sys.stderr)
    return 0


def _scrub_log() -> int:
    from sms.store import MessageStore  # noqa: PLC0415

    count = MessageStore(_redis()).scrub()
    print(f"{count} message record(s) scrubbed", file=sys.stderr)
    return 0


def _broadcast(args: argparse.Namespace) -> int:
    import redis  # noqa: PLC0415

    from gateway.container import build  # noqa: PLC0415
    from menus.model import MenuSpec  # noqa: PLC0415
    from sms.broadcast import Broadcaster, broadcast_id, progress_bar, read_rows  # noqa: PLC0415
    from sms.service import SmsService  # noqa: PLC0415

    params = dict(item.split("=", 1) for item in args.param if "=" in item)
    rows = read_rows(args.to)
    services = build(_settings())
    ident = args.id or broadcast_id(args.template, args.to, params)
    region = services.get(MenuSpec).city.country
    broadcaster = Broadcaster(services.get(SmsService), services.get(redis.Redis), region)
    print(f"broadcast {ident}: {len(rows)} rows, template {args.template}", file=sys.stderr)
    try:
        progress = broadcaster.run(
            ident, args.template, rows, params, limit=args.limit, on_progress=progress_bar()
        )
    except TemplateError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    state = "done" if progress.finished else "interrupted: run the same command to resume"
    print(f"\nbroadcast {ident}: {state}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
