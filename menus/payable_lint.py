"""`menus lint` on the catalogue's payable kinds (cities/<id>/catalogue.yaml `payable_kinds`).

A kind is data a city adds without Python, so the linter checks what the screens and SMS
rest on: its name, reference label and receipt text in every menus language, within the
placeholders' budgets (kind_name, ref_label, what / tax), a pattern that compiles, and
payables that name a declared kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from civic.payables import WHAT_MAX
from menus.loader import Problem

# Each text of a kind and its longest value (menus.yaml placeholders kind_name, ref_label).
LIMITS: Final = {"names": 30, "reference_label": 20, "receipt": WHAT_MAX}


def payable_kind_problems(catalogue: Path, languages: Sequence[str]) -> Iterator[Problem]:
    """Yield what is wrong with the payable kinds of `catalogue` for `languages`."""
    if not catalogue.exists():
        return
    data = yaml.safe_load(catalogue.read_text(encoding="utf-8")) or {}
    kinds: list[Mapping[str, Any]] = data.get("payable_kinds") or []
    blocks: list[Mapping[str, Any]] = data.get("payables") or []
    periods: dict[str, list[str]] = {}
    for block in blocks:
        periods.setdefault(str(block.get("kind")), []).append(str(block.get("period", "")))
    declared = set()
    for index, kind in enumerate(kinds):
        code = str(kind.get("code", index))
        declared.add(code)
        where = f"{catalogue.name}:payable_kinds.{code}"
        yield from _texts(kind, where, languages, periods.get(code, []))
        try:
            re.compile(str(kind.get("pattern", "")))
        except re.error as error:
            yield Problem(f"{where}.pattern", f"not a regular expression: {error}")
    for block in blocks:
        if str(block.get("kind")) not in declared:
            yield Problem(f"{catalogue.name}:payables", f"unknown kind {block.get('kind')!r}")


def _texts(
    kind: Mapping[str, Any], where: str, languages: Sequence[str], periods: list[str]
) -> Iterator[Problem]:
    for key, limit in LIMITS.items():
        texts = kind.get(key)
        if not isinstance(texts, Mapping):
            yield Problem(f"{where}.{key}", "missing (a text per language)")
            continue
        missing = [lang for lang in languages if not texts.get(lang)]
        if missing:
            yield Problem(f"{where}.{key}", f"missing translation: {', '.join(missing)}")
        for lang, text in texts.items():
            # The receipt is measured filled with the longest period of its payables.
            filled = [str(text).replace("{period}", p) for p in periods or [""]]
            longest = max(len(f) for f in filled)
            if longest > limit:
                yield Problem(f"{where}.{key}.{lang}", f"{longest} characters, over {limit}")
