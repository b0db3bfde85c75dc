"""What `menus lint` checks of the catalogue's kinds of request, their workflows and texts.

(menus.catalogue_lint checks its appointments; both read the same catalogue file.)

A catalogue (cities/<id>/catalogue.yaml) gives each entry a `kind` and each kind a workflow
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


def workflow_problems(path: str | Path, menus: Mapping[str, Any]) -> Iterator[Problem]:
    """Yield every problem of the catalogue at `path` read with the menus document `menus`."""
    try:
        city = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        yield Problem(Path(path).name, f"cannot read the catalogue: {error}")
        return
    if not isinstance(city, Mapping):
        yield Problem(Path(path).name, "the catalogue is not a mapping")
        return
    kinds = {
        f"documents.{d.get('code')}": str(d.get("kind") or workflows.DOCUMENT_KIND)
        for d in city.get("documents") or []
        if isinstance(d, Mapping)
    }
    found = [
        Problem(f"{Path(path).name}:{where}", message)
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
                    f"{Path(path).name}:workflows.{kind}",
                    f"status {status.value} has no text in {', '.join(missing)} "
                    f"(menus messages.{key})",
                )
