"""The compiled, immutable form of menus.yaml the engine walks (built once at start-up)."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from text.money import MoneyFormat

ScreenKind = Literal["menu", "input", "action", "end", "form"]
SCREEN_KINDS: tuple[ScreenKind, ...] = ("menu", "input", "action", "end", "form")

# Keys the engine keeps for navigation on every screen: back, home, next page, previous page.
BACK, HOME, NEXT_PAGE, PREVIOUS_PAGE = "0", "00", "98", "99"
RESERVED_KEYS = frozenset({BACK, HOME, NEXT_PAGE, PREVIOUS_PAGE})
# On a form's optional field only: leave it blank ("97. Skip"); no validator accepts "97".
SKIP_FIELD = "97"
# Engine texts a menus.yaml with a form screen defines: the skip line, and one error text
# per registered field validator (`field_<validator>`; `invalid_input` when missing).
FORM_MESSAGES = ("skip",)

# Engine texts every menus.yaml must define in every language.
REQUIRED_MESSAGES = (
    "back",
    "home",
    "more",
    "previous",
    "invalid_choice",
    "invalid_input",
    "too_many_tries",
    "bad_request",
    "unavailable",
    "busy",
    "resume_prompt",
    "resume_continue",
    "resume_restart",
)
# Placeholders every text may use without declaring them; values come from `city:`.
BUILTIN_PLACEHOLDERS = ("city", "currency", "service_code")

_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A text's {placeholders} cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Template:
    """A text split once into literal parts and placeholder names."""

    source: str
    parts: tuple[tuple[str, str | None], ...]
    names: frozenset[str]

    @classmethod
    def parse(cls, source: str) -> Template:
        """Split `source` at its {placeholders}; refuse format specs and positional fields."""
        parts: list[tuple[str, str | None]] = []
        try:
            parsed = list(_FORMATTER.parse(source))
        except ValueError as exc:
            raise TemplateError(str(exc)) from None
        for literal, name, spec, conversion in parsed:
            if name is not None and (not name.isidentifier() or spec or conversion):
                raise TemplateError(f"{{{name}}}: use a plain {{name}} placeholder")
            parts.append((literal, name))
        names = frozenset(name for _, name in parts if name is not None)
        if not names:
            # A static text (`{{` escapes included) renders as one precomputed string.
            parts = [("".join(literal for literal, _ in parts), None)]
        return cls(source, tuple(parts), names)

    def render(self, values: Mapping[str, Any]) -> str:
        """Fill the placeholders from `values`; a missing value renders as nothing."""
        if not self.names:
            return self.parts[0][0] if self.parts else ""
        out: list[str] = []
        for literal, name in self.parts:
            out.append(literal)
            if name is not None:
                value = values.get(name)
                out.append("" if value is None else str(value))
        return "".join(out)


@dataclass(frozen=True, slots=True)
class Text:
    """One text in every language it was written in."""

    variants: Mapping[str, Template]
    default: str

    def template(self, lang: str) -> Template:
        """Return the text in `lang`, or in the default language when it is missing."""
        found = self.variants.get(lang)
        return found if found is not None else self.variants[self.default]

    def render(self, lang: str, values: Mapping[str, Any]) -> str:
        """Render the text in `lang` with `values`."""
        return self.template(lang).render(values)


class Validator(Protocol):
    """An input check compiled once; returns the value to save, or None when invalid."""

    @property
    def error(self) -> Text | None:
        """Return the validator's own error text, if it has one."""

    def check(self, raw: str) -> str | None:
        """Return the normalised value, or None when `raw` is not acceptable."""


@dataclass(frozen=True, slots=True)
class StaticOption:
    """A menu line written in menus.yaml."""

    key: str
    label: Text
    next: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class TypedAnswer:
    """What a menu accepts besides its options: input that passes `validators`."""

    save_as: str
    validators: tuple[Validator, ...]
    next: str


@dataclass(frozen=True, slots=True)
class Screen:
    """One screen of the menu tree, of one of five kinds.

    A `form` walks fields an action returns (`fields_from`), one screen per field, checks
    each answer with a registered field validator, saves them as a mapping under `save_as`,
    then goes to `next`; `0` goes back one field.
    """

    id: str
    kind: ScreenKind
    text: Text | None = None
    options: tuple[StaticOption, ...] = ()
    options_from: str | None = None
    save_as: str | None = None
    empty: str | None = None
    next: str | None = None
    validators: tuple[Validator, ...] = ()
    error: Text | None = None
    action: str | None = None
    args: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    on: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    typed: TypedAnswer | None = None  # menus only: typed input accepted besides the options
    fields_from: str | None = None

    @property
    def waits_for_input(self) -> bool:
        """Return True for screens the citizen answers (menus, inputs and forms)."""
        return self.kind in ("menu", "input", "form")


@dataclass(frozen=True, slots=True)
class City:
    """The city the menus serve."""

    id: str
    name: str
    country: str  # ISO 3166 region, for phonenumbers
    currency: str
    timezone: str
    money: MoneyFormat | None = None  # None: whole units, then the ISO code (12 500 CDF)
    sms_countries: tuple[str, ...] = ()  # regions SMS may go to; () = country only

    @property
    def money_format(self) -> MoneyFormat:
        """Return how the city writes amounts."""
        return self.money or MoneyFormat(symbol=self.currency)


@dataclass(frozen=True, slots=True)
class MenuSettings:
    """Session timing and patience, from menus.yaml `settings:`."""

    session_ttl_seconds: int = 180
    resume_window_seconds: int = 300
    max_invalid_tries: int = 3


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A declared placeholder and its worst case, for the linter."""

    name: str
    max_length: int
    ucs2: bool = False
    paged: bool = False  # may exceed one screen: the renderer pages it, lint bounds the pages
    noun: bool = False  # a name: texts must not glue an article to it (lint, grammar)


@dataclass(frozen=True, slots=True)
class MenuSpec:
    """A whole menus.yaml, validated and compiled."""

    version: int
    city: City
    service_code: str
    languages: tuple[str, ...]
    start: str
    settings: MenuSettings
    placeholders: Mapping[str, Placeholder]
    messages: Mapping[str, Text]
    screens: Mapping[str, Screen]
    source: str = "menus.yaml"

    @property
    def default_language(self) -> str:
        """Return the language shown until a phone picks one (the first declared)."""
        return self.languages[0]

    def builtin_values(self) -> dict[str, str]:
        """Return the values of the built-in placeholders."""
        return {
            "city": self.city.name,
            "currency": self.city.money_format.symbol,
            "service_code": self.service_code,
        }

    def message(self, key: str, lang: str, values: Mapping[str, Any] | None = None) -> str:
        """Render engine message `key` in `lang`."""
        return self.messages[key].render(lang, values if values is not None else {})
