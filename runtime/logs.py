"""Process-wide logging: one JSON object per line, people masked, secrets scrubbed.

`configure(level, ref_key)` is called once by each entry point (the web factory, the rq
worker); it installs one stderr handler on the root logger carrying `JsonFormatter` and
`ScrubFilter`. Call sites keep lazy %-style arguments, so a record below the level is never
formatted. To log about a person, pass `person(phone)`: it renders masked (`+243 81•••••01`)
and the formatter adds `phone_ref`, a keyed hash that correlates lines about one number
without revealing it.

During an outage every hop, callback and job meets the same failure: `OutageFilter` lets one
line per cause through per interval (`outage_interval`, 10 s) and holds back the rest; the
next line of that cause carries `repeated` (how many were held back, and since when). A
record's cause is its `outage=` extra (`extra=outage("redis")`) or an exception of one of the
`outage_causes` types the entry point names (Redis connection errors, for instance), together
with the logger and message template, so distinct places stay distinct.

The scrubber is the last line of defence, not the policy: code must not log numbers, OTPs,
tokens or keys in the first place (tests/test_logs.py drives real requests and checks).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from runtime.masking import mask_phone, phone_ref

_HANDLER_NAME: Final = "guichet-json"
# Anything that looks like a phone number: 9-15 digits in a row (E.164 with or without +,
# national numbers), or a + and digits with spaces or dashes inside (`+243 81 000 0001`).
# Long numeric ids are scrubbed too; that false positive is the safe side.
_PHONE: Final = re.compile(r"(?<![\w.\-+])(?:\+?\d{9,15}|\+\d{1,3}(?:[ -]?\d){8,14})(?![\w.\-])")
# token=..., key=..., secret=..., password=..., otp=..., code=... in URLs, forms and prose.
_SECRET_PARAM: Final = re.compile(
    r"(?i)\b(token|api_?key|key|secret|password|passwd|otp|pin|code)=([^&\s\"',;]+)"
)
_BEARER: Final = re.compile(r"(?i)\bbearer\s+[\w\-.~+/]+=*")
# The `/t/<token>` segment of callback URLs (gateway/callback_auth.py).
_TOKEN_SEGMENT: Final = re.compile(r"(/t/)[^/?\s\"']+")
_REDACTED: Final = "[redacted]"
_PHONE_REDACTED: Final = "[phone]"

# The key of `phone_ref` for this process; `configure` sets it from the settings.
_ref_key: bytes = b"guichet-development-log-ref-key"


def scrub(text: str) -> str:
    """Return `text` with phone-like numbers, `token=`-like values and bearer tokens removed."""
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={_REDACTED}", text)
    text = _BEARER.sub(f"Bearer {_REDACTED}", text)
    text = _TOKEN_SEGMENT.sub(rf"\1{_REDACTED}", text)
    return _PHONE.sub(_PHONE_REDACTED, text)


class Person:
    """A phone number as a log argument: masked when rendered, hashed for correlation."""

    __slots__ = ("_phone",)

    def __init__(self, phone: str) -> None:
        self._phone = phone

    def __str__(self) -> str:
        return mask_phone(self._phone)

    __repr__ = __str__

    @property
    def ref(self) -> str:
        """Return the keyed hash of the number (stable for one key)."""
        return phone_ref(self._phone, _ref_key)


def person(phone: str) -> Person:
    """Wrap `phone` for a log call: `log.info("sent to %s", person(phone))`."""
    return Person(phone)


def current_phone_ref(phone: str) -> str:
    """Return the correlation hash of `phone` with this process's key (events, reports)."""
    return phone_ref(phone, _ref_key)


class ScrubFilter(logging.Filter):
    """Render each emitted record once and scrub it; attached to the handler, not loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its scrubbed rendering; never drop a record."""
        refs = [a.ref for a in _args(record) if isinstance(a, Person)]
        if refs:
            record.phone_ref = refs[0] if len(refs) == 1 else refs
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the line
            message = f"{record.msg!r} % {record.args!r}"
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


def _args(record: logging.LogRecord) -> tuple[Any, ...]:
    if isinstance(record.args, tuple):
        return record.args
    return ()


def outage(cause: str) -> dict[str, str]:
    """Return the `extra=` of a line about an outage of `cause` (rate-limited per cause)."""
    return {"outage": cause}


DEFAULT_OUTAGE_INTERVAL: Final = 10.0


class OutageFilter(logging.Filter):
    """Let one line per outage cause through per interval; the next one counts the rest."""

    def __init__(
        self,
        interval: float = DEFAULT_OUTAGE_INTERVAL,
        causes: tuple[type[BaseException], ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.causes = causes
        self.clock = clock
        self._lock = threading.Lock()
        # cause key -> (when its last line went out, lines held back since)
        self._windows: dict[tuple[str, str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False for a repeat of a cause already logged within the interval."""
        cause = self.cause_of(record)
        if cause is None:
            return True
        key = (cause, record.name, str(record.msg))
        now = self.clock()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now - window[0] < self.interval:
                self._windows[key] = (window[0], window[1] + 1)
                return False
            self._windows[key] = (now, 0)
            if len(self._windows) > _MAX_OUTAGE_KEYS:  # bounded, whatever the traffic
                self._windows.pop(next(iter(self._windows)))
        record.outage = cause
        if window is not None and window[1]:
            record.repeated = window[1]
            record.repeated_over_seconds = round(now - window[0], 1)
        return True

    def cause_of(self, record: logging.LogRecord) -> str | None:
        """Return the outage `record` reports, or None for an ordinary line."""
        explicit = getattr(record, "outage", None)
        if isinstance(explicit, str):
            return explicit
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and isinstance(error, self.causes):
            return f"{type(error).__module__}.{type(error).__qualname__}"
        return None


_MAX_OUTAGE_KEYS: Final = 1024


# LogRecord attributes that are not `extra=` fields.
_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "phone_ref",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, phone_ref, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        ref = getattr(record, "phone_ref", None)
        if ref is not None:
            entry["phone_ref"] = ref
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = scrub(value) if isinstance(value, str) else value
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(
    level: str = "INFO",
    *,
    ref_key: bytes | None = None,
    outage_causes: tuple[type[BaseException], ...] = (),
    outage_interval: float = DEFAULT_OUTAGE_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
) -> logging.Handler:
    """Install (or replace) the JSON stderr handler on the root logger; return it."""
    global _ref_key  # noqa: PLW0603 - logging is process-wide by nature
    if ref_key:
        _ref_key = ref_key
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    # Outages first: a held-back line is never rendered nor scrubbed.
    handler.addFilter(OutageFilter(outage_interval, outage_causes, clock))
    handler.addFilter(ScrubFilter())
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
