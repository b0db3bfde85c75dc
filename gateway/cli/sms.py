"""`python -m gateway sms ...`: templates check, outbox, scrub-log, broadcast, orange-subscribe.

Under the edge because the commands read the process's settings and build its container
(broadcast); the sms package below never names the gateway.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import redis

from gateway import container as composition
from gateway.config import Settings
from gateway.redis_client import build_redis
from menus.model import MenuSpec
from runtime.packs import all_packs
from sms.broadcast import Broadcaster, broadcast_id, progress_bar, read_rows
from sms.check import check, format_report
from sms.providers.base import ProviderError
from sms.providers.console import as_dict, read_outbox
from sms.providers.orange import OrangeSmsProvider
from sms.service import SmsService
from sms.store import MessageStore
from sms.templates import TemplateError, load


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `sms` command and its subcommands."""
    parser = commands.add_parser("sms", help="templates check, outbox, scrub-log, broadcast")
    sms_commands = parser.add_subparsers(dest="sms_command", required=True, metavar="COMMAND")

    templates = sms_commands.add_parser("templates", help="template tools")
    templates_commands = templates.add_subparsers(dest="action", required=True)
    checker = templates_commands.add_parser("check", help="encoding and segments per template")
    checker.add_argument("file", nargs="?", default=None, help="default: every city pack's")
    checker.set_defaults(handler=lambda args: _templates_check(args.file))

    outbox = sms_commands.add_parser("outbox", help="what the console provider sent, newest first")
    outbox.add_argument("--phone", help="E.164 number to filter on")
    outbox.add_argument("--limit", type=int, default=20)
    outbox.add_argument("--json", action="store_true", help="one JSON document")
    outbox.add_argument(
        "--refused",
        action="store_true",
        help="messages refused (budget, STOP, country), any provider",
    )
    outbox.set_defaults(handler=_outbox_command)

    scrub = sms_commands.add_parser(
        "scrub-log", help="forget numbers and texts of sent messages (once, after an upgrade)"
    )
    scrub.set_defaults(handler=lambda _args: _scrub_log())

    broadcast = sms_commands.add_parser("broadcast", help="send a notice to every phone of a CSV")
    broadcast.add_argument("--template", required=True)
    broadcast.add_argument("--to", required=True, type=Path, help="CSV with a phone column")
    broadcast.add_argument("--param", action="append", default=[], help="k=v for every row")
    broadcast.add_argument("--id", help="broadcast id (default: derived from the inputs)")
    broadcast.add_argument("--limit", type=int, help="stop after this many rows (resumable)")
    broadcast.set_defaults(handler=_broadcast)

    subscribe = sms_commands.add_parser(
        "orange-subscribe",
        help="subscribe our delivery URL to the Orange SMS sender's delivery receipts (once)",
    )
    subscribe.set_defaults(handler=lambda _args: orange_subscribe(Settings.from_env()))


def orange_subscribe(settings: Settings) -> int:
    """Subscribe /sms/orange/delivery to ORANGE_SMS_SENDER's delivery receipts."""
    if settings.sms_provider != "orange":
        print("error: SMS_PROVIDER is not orange", file=sys.stderr)
        return 2
    notify_url = composition.sms_delivery_url(settings)
    if not notify_url:
        print("error: PUBLIC_BASE_URL is not set (Orange must reach it)", file=sys.stderr)
        return 2
    provider = OrangeSmsProvider(
        client_id=settings.orange_sms_client_id,
        client_secret=settings.orange_sms_client_secret,
        sender=settings.orange_sms_sender,
        base_url=settings.orange_sms_base_url,
        timeout_seconds=settings.sms_http_timeout_seconds,
    )
    try:
        reference = provider.subscribe_receipts(notify_url)
    except ProviderError as error:
        print(f"error: Orange refused the subscription: {error.detail}", file=sys.stderr)
        return 1
    print(f"subscribed: {reference}")  # the notify URL (and its token) is not printed
    return 0


def _templates_check(path: str | None) -> int:
    files = [Path(path)] if path else [found.sms_templates for found in all_packs()]
    failed = 0
    for file in files:
        try:
            book = load(file)
        except TemplateError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        report = check(book)
        if len(files) > 1:
            print(f"== {file}")
        print(format_report(report, apply_policy=book.transliteration.apply))
        failed += not report.ok
    return 1 if failed else 0


def _outbox_command(args: argparse.Namespace) -> int:
    if args.refused:
        return _refused(args.limit, as_json=args.json)
    return _outbox(args.phone, args.limit, as_json=args.json)


def _redis() -> redis.Redis:
    # The installation's Redis as the web app opens it (topology, key prefix).
    return build_redis(Settings.from_env())


def _outbox(phone: str | None, limit: int, *, as_json: bool) -> int:
    entries = read_outbox(_redis(), phone=phone, limit=limit)
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
    count = MessageStore(_redis()).scrub()
    print(f"{count} message record(s) scrubbed", file=sys.stderr)
    return 0


def _broadcast(args: argparse.Namespace) -> int:
    params = dict(item.split("=", 1) for item in args.param if "=" in item)
    rows = read_rows(args.to)
    services = composition.build(Settings.from_env())
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
