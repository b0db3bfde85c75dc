"""`python -m gateway hash-key`: the API_KEYS entry for a key handed out to an agent or portal."""

from __future__ import annotations

import argparse
import sys

from gateway.auth import SCOPES, digest


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `hash-key` command."""
    parser = commands.add_parser("hash-key", help="print the API_KEYS entry of a key")
    parser.add_argument("key", help="the key itself; '-' reads it from stdin (keeps it off argv)")
    parser.add_argument("--id", dest="key_id", help="who holds the key (agent id or portal name)")
    parser.add_argument("--scope", choices=sorted(SCOPES), default="agent")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print `id:scope:sha256hex`, or only the digest without --id."""
    key = sys.stdin.readline().strip() if args.key == "-" else args.key
    if not key:
        print("error: the key is empty", file=sys.stderr)
        return 2
    if args.key_id is None:
        print(digest(key))
    elif ":" in args.key_id or "," in args.key_id:
        print("error: --id may not contain ':' or ','", file=sys.stderr)
        return 2
    else:
        print(f"{args.key_id}:{args.scope}:{digest(key)}")
    return 0
