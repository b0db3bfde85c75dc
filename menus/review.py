"""`menus lint --review`: the texts of a city pack nobody on the team can verify.

A pack marks a language it cannot vouch for at the top of each file (`review: {sw: native
speaker}` in menus.yaml, sms_templates.yaml, catalogue.yaml); this lists every text in it, so a
native speaker can be handed the list and the texts are never taken for final.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from menus.loader import iter_texts


def review_marks(document: Any) -> dict[str, str]:
    """Return {language: who must review it} from a pack file's `review:` block."""
    block = document.get("review") if isinstance(document, dict) else None
    return {str(k): str(v) for k, v in block.items()} if isinstance(block, dict) else {}


def to_review(path: Path) -> Iterator[str]:
    """Yield `file:where: lang: review: who` for every text of a language marked for review."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    marks = review_marks(document)
    if not marks:
        return
    for where, text in _texts(document):
        for lang, who in marks.items():
            if lang in text:
                yield f"{path}:{where}: {lang}: review: {who}"


def _texts(document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, str]]]:
    if "screens" in document and "messages" in document:  # a menus file
        for _id, where, text in iter_texts(document):
            yield where, text
        return
    yield from _localized(document, "")


def _localized(node: Any, where: str) -> Iterator[tuple[str, Mapping[str, str]]]:
    # SMS templates and catalogues: any mapping whose keys are all short language codes.
    if isinstance(node, dict):
        if node and all(_is_lang(k) and isinstance(v, str) for k, v in node.items()):
            yield where, node
            return
        for key, value in node.items():
            if key != "review":
                yield from _localized(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _localized(value, f"{where}[{index}]")


def _is_lang(key: object) -> bool:
    return isinstance(key, str) and 2 <= len(key) <= 3 and key.isalpha() and key.islower()
