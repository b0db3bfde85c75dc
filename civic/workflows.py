"""Kinds of request and their workflows, as the catalogue's `workflows:` section declares them.

A catalogue entry has a `kind` (document, registration, dossier, declaration, correction...);
each kind names the statuses its requests go through and, per status, the decisions an agent
may take and where each leads:

    workflows:
      registration:
        statuses: [submitted, in_review, appointment_needed, approved, rejected]
        transitions:
          submitted: {in_review: in_review, reject: rejected}
          ...

Statuses and decisions are the closed vocabulary of civic.ports (RequestStatus, Decision):
code acts on some of them (a due fee, an expiry, an appointment), so a city composes new
kinds from them without Python, and a new word needs a code change plus its `status_<x>` texts.
The fee flow is the code's, whatever the kind: awaiting_payment (reject, waive_fee) and
expired are added to every workflow. `problems` lists everything wrong (menus lint prints it);
`parse` refuses a section with any problem (the seed loads only a clean catalogue).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from civic.ports import Decision, RequestStatus

Transitions = dict[RequestStatus, dict[Decision, RequestStatus]]

DOCUMENT_KIND: Final = "document"
# Every workflow starts at submitted and may refuse; the fee flow below is added to each.
REQUIRED_STATUSES: Final = frozenset({RequestStatus.SUBMITTED, RequestStatus.REJECTED})
FEE_FLOW: Final[Transitions] = {
    RequestStatus.AWAITING_PAYMENT: {
        Decision.REJECT: RequestStatus.REJECTED,
        Decision.WAIVE_FEE: RequestStatus.SUBMITTED,
    },
    RequestStatus.EXPIRED: {},
}
# Decisions the code takes, never a workflow's own.
CODE_DECISIONS: Final = frozenset({Decision.WAIVE_FEE})


STATUS_NAMES: Final = frozenset(s.value for s in RequestStatus)
DECISION_NAMES: Final = frozenset(d.value for d in Decision)


class WorkflowError(ValueError):
    """The catalogue's workflows or kinds are unusable; the message lists every problem."""


def problems(
    workflows: Any, kinds_used: Mapping[str, str] | None = None
) -> Iterator[tuple[str, str]]:
    """Yield (path, message) for everything wrong in a `workflows:` section.

    `kinds_used` maps a catalogue entry's path to its kind: an unknown kind is reported there.
    """
    if workflows is None:
        workflows = {}
    if not isinstance(workflows, Mapping):
        yield "workflows", "must map a kind to its workflow"
        return
    for kind, spec in workflows.items():
        yield from _kind_problems(f"workflows.{kind}", spec)
    known = {DOCUMENT_KIND, *map(str, workflows)}
    for path, kind in (kinds_used or {}).items():
        if kind not in known:
            yield f"{path}.kind", f"unknown kind {kind!r} (declare it under workflows:)"


def _kind_problems(path: str, spec: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(spec, Mapping):
        yield path, "must have statuses and transitions"
        return
    raw_statuses = spec.get("statuses")
    if not isinstance(raw_statuses, list) or not raw_statuses:
        yield f"{path}.statuses", "must list the kind's statuses"
        return
    statuses: set[str] = set()
    for name in raw_statuses:
        if str(name) not in STATUS_NAMES:
            yield f"{path}.statuses", f"unknown status {name!r}"
        statuses.add(str(name))
    for required in sorted(REQUIRED_STATUSES):
        if required.value not in statuses:
            yield f"{path}.statuses", f"must include {required.value}"
    transitions = spec.get("transitions")
    if not isinstance(transitions, Mapping):
        yield f"{path}.transitions", "must map a status to {decision: next status}"
        return
    for source, moves in transitions.items():
        where = f"{path}.transitions.{source}"
        if str(source) not in statuses:
            yield where, f"{source!r} is not one of the kind's statuses"
        if not isinstance(moves, Mapping):
            yield where, "must map a decision to the next status"
            continue
        for decision, target in moves.items():
            if str(decision) not in DECISION_NAMES:
                yield f"{where}.{decision}", f"unknown decision {decision!r}"
            elif Decision(str(decision)) in CODE_DECISIONS:
                yield f"{where}.{decision}", f"{decision} is the fee flow's, not a workflow's"
            if str(target) not in statuses:
                yield f"{where}.{decision}", f"transition to an unknown status {target!r}"


def parse(workflows: Any) -> dict[str, Transitions]:
    """Return each kind's transitions, the fee flow added; raise WorkflowError on a problem."""
    found = list(problems(workflows))
    if found:
        raise WorkflowError("; ".join(f"{path}: {message}" for path, message in found))
    parsed: dict[str, Transitions] = {}
    for kind, spec in (workflows or {}).items():
        table: Transitions = {RequestStatus(s): {} for s in spec["statuses"]}
        for source, moves in spec["transitions"].items():
            table[RequestStatus(source)] = {Decision(d): RequestStatus(t) for d, t in moves.items()}
        for status, moves in FEE_FLOW.items():
            table.setdefault(status, dict(moves))
        parsed[str(kind)] = table
    return parsed


def statuses_of(transitions: Mapping[RequestStatus, Any]) -> list[RequestStatus]:
    """Return every status a workflow names, as sources or targets."""
    seen: dict[RequestStatus, None] = {}
    for source, moves in transitions.items():
        seen[source] = None
        for target in moves.values():
            seen[target] = None
    return list(seen)


def to_json(
    transitions: Mapping[RequestStatus, Mapping[Decision, RequestStatus]],
) -> dict[str, Any]:
    """Return the JSON form of a workflow (stored with the document type, sent by the portal)."""
    return {s.value: {d.value: t.value for d, t in m.items()} for s, m in transitions.items()}


def from_json(raw: Any) -> Transitions:
    """Read a workflow's JSON form; raise ValueError on an unknown status or decision."""
    if not raw:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError("transitions must map a status to {decision: status}")
    return {
        RequestStatus(str(s)): {Decision(str(d)): RequestStatus(str(t)) for d, t in m.items()}
        for s, m in raw.items()
    }
