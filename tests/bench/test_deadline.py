"""The deadline-day harness (bench/deadline.py) counts what it claims to count.

One small run on the real stack (the Procfile's web line, one worker, the fake Daraja with
fast customers, the fake SMS API, SQLite, this suite's Redis database): every payment is
answered once. Then the same observations, tampered the three ways the harness must catch:
a receipt SMS sent twice, one never sent, a customer charged twice. Speed is not asserted.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bench.deadline import Charge, Observations, Options, Report, run, tally
from fakes.daraja import Realism
from tests.conftest import REDIS_DB, REDIS_HOST, REDIS_PORT

FAST_CUSTOMERS = Realism(
    accept_seconds=(0.05, 0.1),
    pin_seconds=(0.2, 0.6),
    failures=((1032, 0.2), (1037, 0.15)),
    late_share=0.2,
    late_seconds=(0.5, 1.5),
    missing_share=0.2,
    push_timeout_share=0.0,
    seed=7,
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """Run the harness once with eight citizens (module scope: ~20 s)."""
    log_dir: Path = tmp_path_factory.mktemp("deadline")
    return run(
        Options(
            citizens=8,
            rate=8.0,
            workers=1,
            dialers=4,
            database="sqlite",
            idle_seconds=1.0,
            probe_interval=0.2,
            settle_timeout=25.0,
            push_delay=0.2,
            reconcile_after=1.0,
            reconcile_interval=1.0,
            realism=FAST_CUSTOMERS,
            log_dir=str(log_dir),
            redis_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        )
    )


def test_every_payment_is_answered_once(report: Report) -> None:
    t = report.tally
    assert t.payments == 8, [c.last_screen for c in report.observations.citizens]
    assert t.succeeded + t.failed == 8  # one push per citizen, no more
    assert t.succeeded >= 1 and t.failed >= 1  # the dice gave both kinds
    assert (t.lost, t.double, t.duplicate_receipts, t.unanswered) == (0, 0, 0, 0)
    assert t.receipts == t.succeeded == len(report.observations.payments)
    assert len(t.receipt_seconds) == t.succeeded  # each receipt timed from a confirmation
    assert report.observations.probe_idle and report.observations.probe_busy


def _receipt_phone(obs: Observations) -> str:
    return next(c.phone for c in obs.charges if c.succeeded)


def test_a_receipt_sent_twice_is_a_duplicate(report: Report) -> None:
    obs = report.observations
    phone = _receipt_phone(obs)
    again = next(s for s in obs.sms if s.phone == phone)
    tampered = dataclasses.replace(obs, sms=[*obs.sms, again])
    assert tally(tampered).duplicate_receipts == 1
    assert tally(tampered).lost == 0


def test_a_receipt_never_sent_is_lost(report: Report) -> None:
    obs = report.observations
    phone = _receipt_phone(obs)
    tampered = dataclasses.replace(obs, sms=[s for s in obs.sms if s.phone != phone])
    result = tally(tampered)
    assert (result.lost, result.unanswered, result.duplicate_receipts) == (1, 1, 0)


def test_a_payment_missing_from_the_back_office_is_lost(report: Report) -> None:
    obs = report.observations
    dropped = obs.payments[0][0]
    tampered = dataclasses.replace(obs, payments=[p for p in obs.payments if p[0] != dropped])
    assert tally(tampered).lost == 1


def test_a_customer_charged_twice_is_a_double_charge(report: Report) -> None:
    obs = report.observations
    charge = next(c for c in obs.charges if c.succeeded)
    twice = Charge(charge.phone, charge.reference, True, charge.told_at, "on_time")
    tampered = dataclasses.replace(obs, charges=[*obs.charges, twice])
    assert tally(tampered).double == 1
    recorded_twice = dataclasses.replace(obs, payments=[*obs.payments, obs.payments[0]])
    assert tally(recorded_twice).double == 1
