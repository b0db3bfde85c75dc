"""The named actions a menus.yaml may call, and the types they exchange with the engine.

A menu file can only name an action registered here: YAML never imports code. Actions may read
and write the domain; anything slow or external is returned as an `Effect` that the hop
handler enqueues only after the session is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import runtime
from runtime.jobs import JobFunc


@dataclass(frozen=True, slots=True)
class Effect:
    """Work an action asks for once the session is safely saved (an rq job taking ids)."""

    queue: str
    func: JobFunc | str  # an rq job function taking ids, or its dotted path (runtime.jobs)
    args: tuple[Any, ...] = ()
    job_id: str | None = None
    delay_seconds: float = 0
    timeout_seconds: float | None = None  # rq's job timeout when the job may be slow


class Enqueuer(Protocol):
    """Where effects go after the session is saved (gateway.jobs.EffectEnqueuer)."""

    def enqueue(self, effect: Effect) -> None:
        """Queue `effect` for a worker."""


@dataclass(frozen=True, slots=True)
class Option:
    """One dynamic menu line: the engine numbers it; `value` goes to the screen's save_as."""

    value: str
    label: str  # already in the caller's language (ActionContext.lang)


@dataclass(frozen=True, slots=True)
class FormField:
    """One field a `form` screen asks, in the caller's language (from a `fields_from` action).

    `validator` names a registered field validator (menus.validators.FIELD_VALIDATORS);
    `pattern` is its argument for id_number, `choices` its options for choice.
    """

    key: str
    label: str
    validator: str
    required: bool = True
    pattern: str | None = None
    choices: tuple[Option, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What an action knows about the hop that calls it."""

    session_id: str
    msisdn: str
    lang: str
    data: Mapping[str, Any]  # session data collected so far
    args: Mapping[str, Any]  # the screen's `args:`
    services: runtime.Container  # ctx.services.get(CivicBackend)


@dataclass
class ActionResult:
    """An action's answer: the outcome to branch on, data for placeholders, options, effects."""

    outcome: str = "ok"  # must be a key of the screen's `on:` (lint checks names)
    data: Mapping[str, Any] = field(default_factory=dict)  # merged into session data
    options: list[Option] | None = None  # for options_from
    fields: list[FormField] | None = None  # for a form's fields_from
    effects: list[Effect] = field(default_factory=list)  # enqueued after the session is saved
    language: str | None = None  # switch the session, and the phone's preference, to this one


ActionFunc = Callable[[ActionContext], ActionResult]


@dataclass(frozen=True, slots=True)
class RegisteredAction:
    """An action as the engine and the linter see it."""

    name: str
    func: ActionFunc
    outcomes: frozenset[str]
    option_label_max: int | None  # longest label an options_from action may return (lint)


class UnknownActionError(LookupError):
    """A menu named an action nobody registered."""


class Registry:
    """Map action names to functions; populated at import time by menus/actions/*."""

    def __init__(self) -> None:
        self._actions: dict[str, RegisteredAction] = {}

    def register(
        self,
        name: str,
        *,
        outcomes: Iterable[str] = ("ok",),
        option_label_max: int | None = None,
    ) -> Callable[[ActionFunc], ActionFunc]:
        """Register the decorated function as action `name` with its possible outcomes."""

        def decorate(func: ActionFunc) -> ActionFunc:
            if name in self._actions and self._actions[name].func is not func:
                raise ValueError(f"action {name!r} is registered twice")
            self._actions[name] = RegisteredAction(
                name, func, frozenset(outcomes), option_label_max
            )
            return func

        return decorate

    def get(self, name: str) -> RegisteredAction:
        """Return action `name`, or raise UnknownActionError."""
        try:
            return self._actions[name]
        except KeyError:
            raise UnknownActionError(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def names(self) -> list[str]:
        """Return every registered action name, sorted."""
        return sorted(self._actions)


# The process's registry: menus/actions/<module>.py decorate their functions with it;
# menus.actions.default_registry() returns it with every built-in action imported.
actions = Registry()
