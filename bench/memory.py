"""Redis bytes per live USSD session: MEMORY USAGE of a mid-journey session and its keys.

    .venv/bin/python bench/memory.py [--redis-db 7]

Drives hops 1-4 of the benchmark journey through the real app (resume window on, as in the
shipped menus.yaml), then sums MEMORY USAGE of every key the session and its phone hold.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def main() -> int:
    """Print the bytes of each key of one mid-journey session, and their sum."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-db", type=int, default=7)
    args = parser.parse_args()
    menus = (HERE / "journey.menus.yaml").read_text()
    # The shipped menus keep a resume snapshot for 300 s: count it.
    menus = menus.replace("resume_window_seconds: 0", "resume_window_seconds: 300")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(menus)
    os.environ["MENUS_PATH"] = handle.name
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:6379/{args.redis_db}"
    os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/guichet-bench.db")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import redis  # noqa: PLC0415
    from profile_hop import call  # noqa: PLC0415

    from bench.app import create_app  # noqa: PLC0415
    from runtime import keys  # noqa: PLC0415 - after sys.path names the checkout
    from sessions.store import lock_key, resume_key, session_key  # noqa: PLC0415

    app = create_app()
    sid, phone = f"mem-{os.getpid()}", "+243810000077"
    for text in ("", "1", "1%2A2", "1%2A2%2A1234567"):
        body = (
            f"sessionId={sid}&serviceCode=%2A384%2A1234%23&phoneNumber=%2B243810000077"
            f"&networkCode=63001&text={text}"
        ).encode()
        reply = call(app, body)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    names = [session_key(sid), lock_key(sid), keys.phone_language(phone), resume_key(phone)]
    names += [key.decode() for key in client.scan_iter(match=f"*{phone}*")]
    total = 0
    print(f"after hop 4 ({reply.splitlines()[0].decode()!r}):")
    for key in dict.fromkeys(names):
        size = client.memory_usage(key, samples=0)
        if size is not None:
            total += int(size)
            extra = f" (value {client.strlen(key)} B)" if client.type(key) == b"string" else ""
            print(f"  {key}: {size} B{extra}")
    print(f"total: {total} B per live session")
    Path(handle.name).unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
