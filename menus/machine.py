"""The menus as one `transitions` state machine per MenuSpec, built once at start-up.

Each hop binds a short-lived `HopModel` and fires one event on it through
`machine.events[name].trigger(model)` (no `add_model`: the transitions FAQ's advice for many
models). Conditions and callbacks are closures built here from the compiled spec: they decide
and write to the model, never do I/O; the hop handler acts on what they decided. Transitions
are ordered: conditional ones first, the unconditioned fallback last.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final, cast

from transitions import EventData, Machine

from menus.model import MenuSpec, Screen, StaticOption, Text

# transitions logs every callback at INFO: at the default LOG_LEVEL that is several formatted
# JSON lines per hop that nobody reads. Its warnings and errors still come through.
logging.getLogger("transitions").setLevel(logging.WARNING)

# Events, one per kind of answer.
SELECT: Final = "select"  # a static menu option was typed
PICK: Final = "pick"  # a dynamic menu option was typed
SUBMIT: Final = "submit"  # an input screen was answered
RESOLVE: Final = "resolve"  # an action returned an outcome
EMPTY: Final = "empty"  # a dynamic menu has no option to show
FILL: Final = "fill"  # a form's last field was answered (or it had none)


class HopModel:
    """The per-hop model the machine moves: where we are, what came in, what was decided."""

    __slots__ = ("error", "invalid", "key", "options", "outcome", "state", "typed", "value")

    def __init__(
        self,
        state: str,
        key: str = "",
        *,
        outcome: str = "",
        options: Mapping[str, str] | None = None,
    ) -> None:
        self.state = state
        self.key = key  # the typed input
        self.outcome = outcome
        self.options: Mapping[str, str] = options or {}  # dynamic key -> value
        self.value: str | None = None  # what to save under the screen's save_as
        self.invalid = False
        self.typed = False  # a menu took the answer as typed input (Screen.typed)
        self.error: Text | None = None  # the failing validator's own error text


Callback = Callable[[EventData], Any]


class _ClosedMachine(Machine):
    """A Machine that only accepts callables: a menu file can never name code to import."""

    @staticmethod
    def resolve_callable(func: Any, event_data: EventData) -> Any:
        if isinstance(func, str):
            raise TypeError(f"callbacks must be callables, not names ({func!r})")
        return func


def _model(event: EventData) -> HopModel:
    return cast(HopModel, event.model)


def _invalid(event: EventData) -> None:
    _model(event).invalid = True


def _key_is(option: StaticOption) -> Callback:
    def condition(event: EventData) -> bool:
        return _model(event).key == option.key

    return condition


def _choose(option: StaticOption) -> Callback:
    def after(event: EventData) -> None:
        _model(event).value = option.value if option.value is not None else option.key

    return after


def _picked(event: EventData) -> bool:
    model = _model(event)
    model.value = model.options.get(model.key)
    return model.value is not None


def _valid(screen: Screen) -> Callback:
    validators = screen.validators

    def condition(event: EventData) -> bool:
        model = _model(event)
        value: str | None = model.key.strip()
        for validator in validators:
            value = validator.check(value) if value is not None else None
            if value is None:
                model.error = validator.error
                return False
        model.value = value
        return True

    return condition


def _typed_valid(screen: Screen) -> Callback:
    assert screen.typed is not None
    validators = screen.typed.validators

    def condition(event: EventData) -> bool:
        model = _model(event)
        value: str | None = model.key.strip()
        for validator in validators:
            value = validator.check(value) if value is not None else None
            if value is None:
                return False
        model.value, model.typed = value, True
        return True

    return condition


def _outcome_is(name: str) -> Callback:
    def condition(event: EventData) -> bool:
        return _model(event).outcome == name

    return condition


class MenuMachine:
    """The compiled transitions of one MenuSpec."""

    def __init__(self, spec: MenuSpec) -> None:
        self.spec = spec
        self.machine = _ClosedMachine(
            model=None,
            states=list(spec.screens),
            initial=spec.start,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        for screen in spec.screens.values():
            self._add(screen)
        self._events = dict(self.machine.events)

    def _add(self, screen: Screen) -> None:
        add = self.machine.add_transition
        source = screen.id
        if screen.kind == "menu" and screen.options:
            for option in screen.options:
                add(
                    SELECT,
                    source,
                    option.next,
                    conditions=[_key_is(option)],
                    after=[_choose(option)],
                )
            if screen.typed is not None:
                add(SELECT, source, screen.typed.next, conditions=[_typed_valid(screen)])
            add(SELECT, source, None, after=[_invalid])
        elif screen.kind == "menu":
            add(PICK, source, screen.next, conditions=[_picked])
            add(PICK, source, None, after=[_invalid])
            if screen.empty is not None:
                add(EMPTY, source, screen.empty)
        elif screen.kind == "input":
            add(SUBMIT, source, screen.next, conditions=[_valid(screen)])
            add(SUBMIT, source, None, after=[_invalid])
        elif screen.kind == "form":
            add(FILL, source, screen.next)
        elif screen.kind == "action":
            for outcome, dest in screen.on.items():
                add(RESOLVE, source, dest, conditions=[_outcome_is(outcome)])
            # An outcome the screen does not map: the handler ends politely.
            add(RESOLVE, source, None, after=[_invalid])

    def fire(self, event: str, model: HopModel) -> bool:
        """Fire `event` on `model` (bound for this hop only); True when a transition ran."""
        return bool(self._events[event].trigger(model))

    def has(self, event: str, state: str) -> bool:
        """Return True when `event` can fire from `state`."""
        found = self._events.get(event)
        return found is not None and state in found.transitions

    def destinations(self, state: str) -> dict[str, list[str | None]]:
        """Return, per event, the ordered destinations from `state` (None: stay)."""
        table: dict[str, list[str | None]] = {}
        for name, event in self._events.items():
            for transition in event.transitions.get(state, ()):
                table.setdefault(name, []).append(transition.dest)
        return table
