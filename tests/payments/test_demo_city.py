"""The demo city lets a tester see every sandbox payment outcome, as the README promises."""

from __future__ import annotations

import re
from pathlib import Path

from civic.seed import load_city, seed_demo
from civic.sql import SqlBackend
from payments.model import FailureReason
from payments.providers.sandbox import OUTCOMES, outcome_for

README = Path(__file__).resolve().parents[2] / "README.md"


def test_seeded_payment_demos_cover_every_sandbox_failure(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    seed_demo(url)
    demos = load_city()["payment_demos"]
    backend = SqlBackend.from_url(url)
    try:
        for demo in demos:
            found = backend.find_assessment(demo["tax"], demo["reference"])
            assert found is not None and not found.paid, demo
            assert outcome_for(found.amount) is FailureReason(demo["outcome"]), demo
    finally:
        backend.dispose()
    assert {FailureReason(demo["outcome"]) for demo in demos} == set(OUTCOMES.values())


def test_the_readme_lists_each_payment_demo_reference() -> None:
    payments = README.read_text(encoding="utf-8").split("## Payments", 1)[1].split("\n## ", 1)[0]
    for demo in load_city()["payment_demos"]:
        row = re.search(rf"^\|[^\n]*`{demo['reference']}`[^\n]*$", payments, re.MULTILINE)
        assert row is not None, f"README Payments table lacks {demo['reference']}"
