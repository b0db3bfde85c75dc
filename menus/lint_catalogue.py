"""The catalogue half of `menus lint`: kinds of request, their workflows and their texts.

A catalogue (civic/demo_city.yaml) gives each entry a `kind` and each kind a workflow
(civic.workflows). What the citizen reads about a status lives in menus.yaml (`status_<x>`,
"my requests" and the SMS-less screens), so both files are checked together: an unknown kind,
a transition to a status the kind does not declare, or a status without its text in one of
the menus' languages is reported like any other menus problem.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from civic import workflow, workflows
from civic.ports import RequestStatus
from menus.loader import Problem

CIVIC_PREFIX = "civic."


def serves_civic(menus: Mapping[str, Any]) -> bool:
    """Return True when a menus document calls the civic journeys' actions (shows requests)."""
    for screen in (menus.get("screens") or {}).values():
        if not isinstance(screen, Mapping):
            continue
        for key in ("action", "options_from", "fields_from"):
            if str(screen.get(key) or "").startswith(CIVIC_PREFIX):
                return True
    return False


def catalogue_problems(path: str | Path, menus: Mapping[str, Any]) -> Iterator[Problem]:
    """Yield every problem of the catalogue at `path` read with the menus document `menus`."""
    try:
        city = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        yield Problem(str(path), f"cannot read the catalogue: {error}")
        return
    if not isinstance(city, Mapping):
        yield Problem(str(path), "the catalogue is not a mapping")
        return
    kinds = {
        f"documents.{d.get('code')}": str(d.get("kind") or workflows.DOCUMENT_KIND)
        for d in city.get("documents") or []
        if isinstance(d, Mapping)
    }
    found = [
        Problem(f"{path}:{where}", message)
        for where, message in workflows.problems(city.get("workflows"), kinds)
    ]
    yield from found
    if found:
        return
    tables = {
        workflows.DOCUMENT_KIND: workflow.TRANSITIONS,
        **workflows.parse(city.get("workflows")),
    }
    yield from _status_texts(path, tables, menus)


def _status_texts(
    path: str | Path,
    tables: Mapping[str, Mapping[RequestStatus, Any]],
    menus: Mapping[str, Any],
) -> Iterator[Problem]:
    languages: list[str] = list(menus.get("languages") or [])
    messages: Mapping[str, Any] = menus.get("messages") or {}
    for kind, table in tables.items():
        for status in workflows.statuses_of(table):
            key = f"status_{status.value}"
            texts = messages.get(key)
            missing = [
                lang for lang in languages if not isinstance(texts, Mapping) or lang not in texts
            ]
            if missing:
                yield Problem(
                    f"{path}:workflows.{kind}",
                    f"status {status.value} has no text in {', '.join(missing)} "
                    f"(menus messages.{key})",
                )
