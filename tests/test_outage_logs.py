"""OutageFilter: one line per outage cause and place per interval; ordinary lines untouched."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from runtime import logs


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO, Clock]]:
    clock = Clock()
    handler = logs.configure("INFO", outage_causes=(ConnectionError,), clock=clock)
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    handler.setStream(out)
    yield logging.getLogger("tests.outage"), out, clock
    logs.configure("INFO")


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _fail(log: logging.Logger, error: Exception) -> None:
    try:
        raise error
    except Exception:
        log.exception("store unavailable")


def test_ordinary_lines_are_never_held_back(
    logged: tuple[logging.Logger, io.StringIO, Clock],
) -> None:
    log, out, _ = logged
    for n in range(5):
        log.error("job %s failed", n)
        _fail(log, ValueError("a bug, not an outage"))
    assert len(_lines(out)) == 10
    assert all("outage" not in line for line in _lines(out))


def test_one_line_per_cause_and_place_per_interval_with_the_count(
    logged: tuple[logging.Logger, io.StringIO, Clock],
) -> None:
    log, out, clock = logged
    for _ in range(50):
        _fail(log, ConnectionError("refused"))
        log.error("callback not stored", extra=logs.outage("redis"))
        log.error("event not stored", extra=logs.outage("redis"))
    first = _lines(out)
    assert [(line["msg"], line["outage"]) for line in first] == [
        ("store unavailable", "builtins.ConnectionError"),
        ("callback not stored", "redis"),
        ("event not stored", "redis"),
    ]
    assert all("repeated" not in line for line in first)
    assert "Traceback" in first[0]["exc"]
    clock.now += logs.DEFAULT_OUTAGE_INTERVAL - 0.1
    log.error("callback not stored", extra=logs.outage("redis"))
    assert len(_lines(out)) == 3  # still inside the interval
    clock.now += 0.1
    log.error("callback not stored", extra=logs.outage("redis"))
    last = _lines(out)[-1]
    assert last["repeated"] == 50  # 49 in the loop, 1 just before the interval ended
    assert last["repeated_over_seconds"] == logs.DEFAULT_OUTAGE_INTERVAL
    # A new interval starts from this line: the next repeat is held back again.
    log.error("callback not stored", extra=logs.outage("redis"))
    assert len(_lines(out)) == 4
