"""City notices to a list of phones: resumable, and never twice to one phone.

Each row is sent with the idempotency key (broadcast id, phone), so a re-run after a crash
creates nothing new for rows already done; a checkpoint (rows done) in Redis lets the re-run
skip them without even asking. The template says whether STOP and the budget apply: a
broadcast of a `notice` template obeys both.
"""

from __future__ import annotations

import csv
import hashlib
import io
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

import phonenumbers
import redis

from runtime import keys
from sms.service import SmsService
from sms.store import text

CHECKPOINT_TTL: Final = 30 * 24 * 3600


@dataclass
class BroadcastProgress:
    """Where a broadcast stands."""

    broadcast_id: str
    total: int
    done: int = 0
    queued: int = 0
    refused: int = 0
    invalid: int = 0
    skipped: int = 0  # rows done by an earlier run, skipped through the checkpoint

    @property
    def finished(self) -> bool:
        """Return True when every row has been handled."""
        return self.done >= self.total


def broadcast_id(template: str, path: Path, params: Mapping[str, str]) -> str:
    """Return a stable id for (template, file, params): re-running the same command resumes."""
    digest = hashlib.sha256()
    digest.update(template.encode())
    digest.update(str(path.resolve()).encode())
    digest.update(path.read_bytes())
    for key in sorted(params):
        digest.update(f"\x1f{key}={params[key]}".encode())
    return digest.hexdigest()[:16]


def read_rows(path: Path) -> list[dict[str, str]]:
    """Read the CSV: a `phone` column, optional `lang`, any other column is a template param."""
    try:
        return rows_from_text(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def rows_from_text(content: str) -> list[dict[str, str]]:
    """Read CSV text as read_rows does (the console's upload)."""
    rows = list(csv.DictReader(io.StringIO(content, newline="")))
    if rows and "phone" not in rows[0]:
        raise ValueError("the first line must name a `phone` column")
    return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in rows]


class Broadcaster:
    """Send one template to every row of a list, with a checkpoint after each row."""

    def __init__(self, sms: SmsService, client: redis.Redis, region: str) -> None:
        self._sms = sms
        self._redis = client
        self._region = region

    def run(
        self,
        broadcast: str,
        template: str,
        rows: list[dict[str, str]],
        params: Mapping[str, str],
        *,
        limit: int | None = None,
        on_progress: Callable[[BroadcastProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> BroadcastProgress:
        """Send from the checkpoint on; stop after `limit` rows (a planned interruption).

        `should_stop` is asked before each row: a person's stop, kept by the checkpoint so
        that running again resumes at the next row.
        """
        key = keys.key("sms", "broadcast", broadcast)
        raw_done = self._redis.hget(key, "done")
        start = int(text(raw_done)) if raw_done is not None else 0
        progress = BroadcastProgress(broadcast, len(rows), done=start, skipped=start)
        end = len(rows) if limit is None else min(len(rows), start + limit)
        for index in range(start, end):
            if should_stop is not None and should_stop():
                break
            row = rows[index]
            phone = self._e164(row.get("phone", ""))
            if phone is None:
                progress.invalid += 1
            else:
                values = {
                    **params,
                    **{k: v for k, v in row.items() if k not in {"phone", "lang"} and v},
                }
                result = self._sms.send(
                    phone,
                    template,
                    values,
                    idempotency_key=f"broadcast:{broadcast}:{phone}",
                    lang=row.get("lang") or None,
                )
                if result.accepted:
                    progress.queued += 1
                else:
                    progress.refused += 1
            progress.done = index + 1
            self._redis.hset(key, mapping={"done": progress.done, "total": len(rows)})
            self._redis.expire(key, CHECKPOINT_TTL)
            if on_progress is not None:
                on_progress(progress)
        return progress

    def _e164(self, raw: str) -> str | None:
        try:
            number = phonenumbers.parse(raw, self._region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def progress_bar(
    stream: TextIO | None = None, width: int = 30
) -> Callable[[BroadcastProgress], None]:
    """Return a callback drawing a one-line progress bar on `stream` (stderr by default)."""

    def draw(progress: BroadcastProgress) -> None:
        out = stream or sys.stderr
        filled = width * progress.done // max(progress.total, 1)
        out.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {progress.done}/{progress.total}"
            f" queued {progress.queued} refused {progress.refused} invalid {progress.invalid}"
        )
        if progress.finished:
            out.write("\n")
        out.flush()

    return draw
