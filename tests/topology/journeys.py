"""A load of USSD journeys and OTP requests through the real WSGI app, outcomes counted.

A journey walks the road-tax screens (menu, taxes, the tax, its amount for 100001): four hops,
each one locking, reading and saving the session in Redis. Each hop ends one of three ways:
the expected screen; a polite END or a 503 (Redis refused: the citizen or the portal tries
again; nothing was accepted); or a wrong screen after an accepted hop, which means a state
Redis had acknowledged was lost. OTP requests answered 202 must each leave exactly one
message in the log (none is lost, none is doubled).
"""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import Flask

from civic.seed import seed_demo
from gateway.schema import MIGRATIONS, run_steps
from sms.store import MessageStore, text
from tests.conftest import UssdPhone

PORTAL = {"Authorization": "Bearer demo-portal-key"}
TAX_REFERENCE = "100001"
# (what the phone types, what the screen must show); None: the dial itself.
JOURNEY = (
    (None, "Payer taxe ou frais"),
    ("1", "Taxe de voirie"),
    ("voirie", "Entrez la référence"),
    (TAX_REFERENCE, "26 500"),
)
UNAVAILABLE = "momentanément indisponible"  # menus.yaml `unavailable`, the polite END


def prepare_database(database_url: str) -> None:
    """Create every package's tables and seed the demo city (the tax journey reads it)."""
    run_steps(MIGRATIONS, database_url, io.StringIO())
    seed_demo(database_url)


def _option(body: str, label: str) -> str | None:
    for line in body.splitlines():
        key, _, rest = line.partition(". ")
        if label in rest:
            return key
    return None


@dataclass
class Load:
    """Journeys and OTP requests on threads until stopped; outcomes with their times."""

    app: Flask
    phones_from: int = 0
    outcomes: list[tuple[float, str]] = field(default_factory=list)  # (time, ok|refused|lost)
    otp_accepted: list[str] = field(default_factory=list)
    otp_refused: int = 0
    otp_errors: list[int] = field(default_factory=list)
    lost_details: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_phone: int = 0

    def _phone(self) -> str:
        with self._lock:
            self._next_phone += 1
            return f"+2438{self.phones_from + self._next_phone:08d}"

    def journey(self) -> str:
        """Walk the road-tax journey once; return ok, refused or lost."""
        ussd = UssdPhone(self.app.test_client(), phone=self._phone())
        screen = ussd.dial()
        for step, (answer, expected) in enumerate(JOURNEY):
            if answer is not None:
                typed = _option(screen.body, "Taxe de voirie") if answer == "voirie" else answer
                screen = ussd.type(typed or "?")
            if screen.status == 503 or (screen.end and UNAVAILABLE in screen.body):
                return "refused"
            if screen.status != 200 or screen.end or expected not in screen.body:
                self.lost_details.append(f"hop {step}: {screen.status} {screen.body[:60]!r}")
                return "lost"
        return "ok"

    def otp(self) -> None:
        """Ask one OTP for a fresh phone; remember the phones answered 202."""
        phone = self._phone()
        answer = self.app.test_client().post(
            "/api/v1/otp", json={"phone": phone, "purpose": "login"}, headers=PORTAL
        )
        with self._lock:
            if answer.status_code == 202:
                self.otp_accepted.append(phone)
            elif answer.status_code == 503:
                self.otp_refused += 1
            else:
                self.otp_errors.append(answer.status_code)

    def _journeys(self) -> None:
        while not self._stop.is_set():
            outcome = self.journey()
            with self._lock:
                self.outcomes.append((time.monotonic(), outcome))

    def _otps(self) -> None:
        while not self._stop.is_set():
            self.otp()
            time.sleep(0.02)

    def start(self, journey_threads: int = 2) -> None:
        """Start the journey threads and one OTP thread."""
        targets = [self._journeys] * journey_threads + [self._otps]
        self._threads = [threading.Thread(target=t, daemon=True) for t in targets]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop and join every thread."""
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def counts(self, since: float = 0.0) -> Counter[str]:
        """Return journey outcomes ended after `since` (monotonic)."""
        return Counter(outcome for at, outcome in self.outcomes if at >= since)


def otp_records(client: redis.Redis) -> Counter[str]:
    """Return how many OTP messages the log holds per phone (queued ones keep their number)."""
    found: Counter[str] = Counter()
    for raw_key in client.scan_iter(match=MessageStore.key("*"), count=1000):
        record: dict[Any, Any] = client.hgetall(raw_key)
        fields = {text(k): text(v) for k, v in record.items()}
        if fields.get("template") == "otp" and fields.get("phone"):
            found[fields["phone"]] += 1
    return found
