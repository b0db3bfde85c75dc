"""Load menus.yaml once at start-up: schema, cross-references, then the compiled model."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from menus.actions import default_registry
from menus.model import (
    BUILTIN_PLACEHOLDERS,
    FORM_MESSAGES,
    RESERVED_KEYS,
    City,
    MenuSettings,
    MenuSpec,
    Placeholder,
    Screen,
    StaticOption,
    Template,
    TemplateError,
    Text,
    TypedAnswer,
)
from menus.registry import Registry
from menus.schema import schema_errors
from menus.validators import compile_validator
from text.money import MoneyFormat


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a menus file, located by a dotted path."""

    path: str
    message: str

    def line(self, source: str) -> str:
        """Format as `menus.yaml:screens.main.text: message`."""
        return f"{source}:{self.path}: {self.message}"


class MenuError(ValueError):
    """menus.yaml cannot be used; the message has one line per problem."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(problem.line(source) for problem in problems))


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader where only true/false are booleans: YAML 1.1 reads `on:` as True."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def read_document(path: str | Path) -> Any:
    """Parse the YAML file, or raise MenuError naming the line that is wrong."""
    source = str(path)
    try:
        with Path(path).open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_YamlLoader)  # noqa: S506 - a SafeLoader subclass
    except OSError as exc:
        raise MenuError(source, [Problem("(file)", exc.strerror or str(exc))]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise MenuError(source, [Problem(where, f"not valid YAML: {exc}")]) from None


def load_menus(path: str | Path, registry: Registry | None = None) -> MenuSpec:
    """Load, validate and compile a menus file, or raise MenuError listing every problem."""
    document = read_document(path)
    registry = registry if registry is not None else default_registry()
    problems = structural_problems(document, registry)
    if problems:
        raise MenuError(str(path), problems)
    return compile_spec(document, source=str(path))


def structural_problems(document: Any, registry: Registry) -> list[Problem]:
    """Return what makes the document unusable: schema, then cross-references."""
    problems = [Problem(path, message) for path, message in schema_errors(document)]
    if problems:
        return problems
    return list(_reference_problems(document, registry))


def iter_texts(document: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, str]]]:
    """Yield (screen or message id, dotted path, localized text) for every text in the file."""
    for key, text in document["messages"].items():
        yield key, f"messages.{key}", text
    for screen_id, screen in document["screens"].items():
        base = f"screens.{screen_id}"
        if "text" in screen:
            yield screen_id, f"{base}.text", screen["text"]
        if "error" in screen:
            yield screen_id, f"{base}.error", screen["error"]
        for index, option in enumerate(screen.get("options", ())):
            yield screen_id, f"{base}.options[{index}].label", option["label"]
        for index, validator in enumerate(screen.get("validators", ())):
            if "error" in validator:
                yield screen_id, f"{base}.validators[{index}].error", validator["error"]


def _reference_problems(document: Mapping[str, Any], registry: Registry) -> Iterator[Problem]:
    screens: Mapping[str, Any] = document["screens"]
    if document["start"] not in screens:
        yield Problem("start", f"unknown screen {document['start']!r}")
    yield from _text_problems(document)
    for screen_id, screen in screens.items():
        base = f"screens.{screen_id}"
        if "next" in screen:
            yield from _target(screens, f"{base}.next", screen["next"])
        kind = screen["type"]
        if kind == "menu":
            yield from _menu_problems(screens, base, screen, registry)
        elif kind == "input":
            yield from _input_problems(base, screen)
        elif kind == "action":
            yield from _action_problems(screens, base, screen, registry)
        elif kind == "form":
            yield from _action(registry, f"{base}.fields_from", screen["fields_from"])
            missing = [m for m in FORM_MESSAGES if m not in document["messages"]]
            for message in missing:
                yield Problem(f"messages.{message}", "needed by form screens")


def _text_problems(document: Mapping[str, Any]) -> Iterator[Problem]:
    languages: list[str] = document["languages"]
    declared = set(document.get("placeholders") or {}) | set(BUILTIN_PLACEHOLDERS)
    for _, path, text in iter_texts(document):
        if languages[0] not in text:
            yield Problem(path, f"missing the default language {languages[0]!r}")
        for lang, source in text.items():
            if lang not in languages:
                yield Problem(f"{path}.{lang}", f"language {lang!r} is not in `languages`")
                continue
            try:
                names = Template.parse(source).names
            except TemplateError as exc:
                yield Problem(f"{path}.{lang}", str(exc))
                continue
            for name in sorted(names - declared):
                yield Problem(f"{path}.{lang}", f"placeholder {{{name}}} is not declared")


def _target(screens: Mapping[str, Any], path: str, screen_id: Any) -> Iterator[Problem]:
    if screen_id not in screens:
        yield Problem(path, f"unknown screen {screen_id!r}")


def _action(registry: Registry, path: str, name: str) -> Iterator[Problem]:
    if name not in registry:
        yield Problem(path, f"unknown action {name!r} (not in the action registry)")


def _menu_problems(
    screens: Mapping[str, Any], base: str, screen: Mapping[str, Any], registry: Registry
) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, option in enumerate(screen.get("options", ())):
        where = f"{base}.options[{index}]"
        key = option["key"]
        if key in RESERVED_KEYS:
            yield Problem(f"{where}.key", f"{key!r} is reserved for navigation")
        if key in seen:
            yield Problem(f"{where}.key", f"duplicate key {key!r}")
        seen.add(key)
        if "next" in option:
            yield from _target(screens, f"{where}.next", option["next"])
        elif "next" not in screen:
            yield Problem(f"{where}.next", "no `next` here nor on the screen")
    if "options_from" in screen:
        yield from _action(registry, f"{base}.options_from", screen["options_from"])
    if "empty" in screen:
        yield from _target(screens, f"{base}.empty", screen["empty"])
    if "typed" in screen:
        yield from _target(screens, f"{base}.typed.next", screen["typed"]["next"])
        yield from _input_problems(f"{base}.typed", screen["typed"])


def _input_problems(base: str, screen: Mapping[str, Any]) -> Iterator[Problem]:
    for index, validator in enumerate(screen.get("validators", ())):
        if validator["type"] == "regex":
            try:
                re.compile(validator["pattern"])
            except re.error as exc:
                yield Problem(f"{base}.validators[{index}].pattern", f"bad regex: {exc}")


def _action_problems(
    screens: Mapping[str, Any], base: str, screen: Mapping[str, Any], registry: Registry
) -> Iterator[Problem]:
    name = screen["action"]
    yield from _action(registry, f"{base}.action", name)
    outcomes = registry.get(name).outcomes if name in registry else None
    for outcome, dest in screen["on"].items():
        yield from _target(screens, f"{base}.on.{outcome}", dest)
        # `error` is always possible: the engine maps a raising action to it.
        if outcomes is not None and outcome not in outcomes and outcome != "error":
            yield Problem(
                f"{base}.on.{outcome}",
                f"action {name!r} has no outcome {outcome!r} "
                f"(it has {', '.join(sorted(outcomes))})",
            )


def _typed(raw: Mapping[str, Any] | None, region: str, text: Any) -> TypedAnswer | None:
    if raw is None:
        return None
    return TypedAnswer(
        save_as=raw["save_as"],
        validators=tuple(compile_validator(v, region=region, text=text) for v in raw["validators"]),
        next=raw["next"],
    )


def compile_spec(document: Mapping[str, Any], *, source: str = "menus.yaml") -> MenuSpec:
    """Build the immutable model of a document that passed structural_problems()."""
    languages = tuple(document["languages"])
    default = languages[0]

    def text(raw: Mapping[str, str]) -> Text:
        return Text(
            MappingProxyType({lang: Template.parse(value) for lang, value in raw.items()}),
            default,
        )

    city_raw = document["city"]
    city = City(
        id=city_raw["id"],
        name=city_raw["name"],
        country=city_raw["country"],
        currency=city_raw["currency"],
        timezone=city_raw["timezone"],
        money=MoneyFormat(**city_raw["money"]) if "money" in city_raw else None,
        sms_countries=tuple(city_raw.get("sms_countries") or ()),
    )
    screens: dict[str, Screen] = {}
    for screen_id, raw in document["screens"].items():
        screens[screen_id] = Screen(
            id=screen_id,
            kind=raw["type"],
            text=text(raw["text"]) if "text" in raw else None,
            options=tuple(
                StaticOption(
                    key=option["key"],
                    label=text(option["label"]),
                    next=option.get("next", raw.get("next")),
                    value=option.get("value"),
                )
                for option in raw.get("options", ())
            ),
            options_from=raw.get("options_from"),
            save_as=raw.get("save_as"),
            empty=raw.get("empty"),
            next=raw.get("next"),
            validators=tuple(
                compile_validator(spec, region=city.country, text=text)
                for spec in raw.get("validators", ())
            ),
            error=text(raw["error"]) if "error" in raw else None,
            action=raw.get("action"),
            args=MappingProxyType(dict(raw.get("args", {}))),
            on=MappingProxyType(dict(raw.get("on", {}))),
            typed=_typed(raw.get("typed"), city.country, text),
            fields_from=raw.get("fields_from"),
        )
    return MenuSpec(
        version=document["version"],
        city=city,
        service_code=document["service_code"],
        languages=languages,
        start=document["start"],
        settings=MenuSettings(**(document.get("settings") or {})),
        placeholders=MappingProxyType(
            {
                name: Placeholder(
                    name,
                    raw["max_length"],
                    raw.get("ucs2", False),
                    raw.get("paged", False),
                    raw.get("noun", False),
                )
                for name, raw in (document.get("placeholders") or {}).items()
            }
        ),
        messages=MappingProxyType({key: text(raw) for key, raw in document["messages"].items()}),
        screens=MappingProxyType(screens),
        source=source,
    )
