"""`menus lint` checks the catalogue's payable kinds: every language, budgets, patterns."""

from __future__ import annotations

from pathlib import Path

import yaml

from civic.seed import DEMO_CITY
from menus.lint import lint
from menus.payable_lint import payable_kind_problems

LANGS = ["fr", "en", "sw"]


def _catalogue(tmp_path: Path, kind: dict[str, object], kind_of_block: str = "fees") -> Path:
    path = tmp_path / "city.yaml"
    block = {"kind": kind_of_block, "period": "T1 2026-27"}
    path.write_text(yaml.safe_dump({"payable_kinds": [kind], "payables": [block]}), "utf-8")
    return path


def _kind(**changes: object) -> dict[str, object]:
    kind: dict[str, object] = {
        "code": "fees",
        "names": {"fr": "Frais", "en": "Fees", "sw": "Ada"},
        "reference_label": {"fr": "numéro", "en": "number", "sw": "namba"},
        "pattern": "^[0-9]{6}$",
        "receipt": {"fr": "Frais {period}", "en": "Fees {period}", "sw": "Ada {period}"},
    }
    kind.update(changes)
    return kind


def test_the_shipped_catalogue_is_clean() -> None:
    assert list(payable_kind_problems(DEMO_CITY, LANGS)) == []


def test_a_kind_without_a_language_is_reported(tmp_path: Path) -> None:
    path = _catalogue(tmp_path, _kind(receipt={"fr": "Frais {period}", "en": "Fees {period}"}))
    problems = [p.line("x") for p in payable_kind_problems(path, LANGS)]
    assert problems == ["x:city.yaml:payable_kinds.fees.receipt: missing translation: sw"]


def test_a_receipt_too_long_once_filled_a_bad_pattern_and_an_unknown_kind_are_reported(
    tmp_path: Path,
) -> None:
    long_receipt = dict.fromkeys(LANGS, "Frais de scolarité du trimestre {period}")
    path = _catalogue(tmp_path, _kind(receipt=long_receipt, pattern="(["), "other")
    problems = [p.line("x") for p in payable_kind_problems(path, LANGS)]
    filled = len("Frais de scolarité du trimestre ")  # no payables of this kind: no period
    assert f"x:city.yaml:payable_kinds.fees.receipt.fr: {filled} characters, over 30" in problems
    assert any(
        p.startswith("x:city.yaml:payable_kinds.fees.pattern: not a regular") for p in problems
    )
    assert "x:city.yaml:payables: unknown kind 'other'" in problems


def test_menus_lint_reports_the_catalogues_problems(tmp_path: Path) -> None:
    path = _catalogue(tmp_path, _kind(names={"fr": "Frais"}))
    report = lint(Path("menus.yaml"), catalogue=path)
    assert not report.ok
    assert any(
        "payable_kinds.fees.names: missing translation: en, sw" in ln for ln in report.lines()
    )
