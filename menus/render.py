"""Render screens in the caller's language and cut them into pages that fit a USSD screen.

A USSD screen holds 182 GSM-7 characters, or only 80 when one character forces UCS-2
(text.encoding.cost decides). Navigation lines (`98` more, `99` previous, `0` back, `00`
home) are part of every page's budget.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from menus.model import BACK, HOME, NEXT_PAGE, PREVIOUS_PAGE, RESERVED_KEYS, MenuSpec, Screen
from text.encoding import cost


def fits(lines: Sequence[str]) -> bool:
    """Return True when `lines` joined by newlines fit one USSD screen."""
    text = "\n".join(lines)
    # Long candidates (while paginating) are measured afresh: the cache stays small.
    return _text_fits(text) if len(text) <= _CACHED_TEXT_CHARS else cost(text).fits_ussd


_CACHED_TEXT_CHARS: Final = 400  # every text that fits a screen is shorter than this


# Most screens render the same text for every caller: measure each text once.
@functools.lru_cache(maxsize=4096)
def _text_fits(text: str) -> bool:
    return cost(text).fits_ussd


def option_keys(count: int) -> list[str]:
    """Return `count` keys 1..n for dynamic options, skipping the navigation keys."""
    keys: list[str] = []
    number = 1
    while len(keys) < count:
        if str(number) not in RESERVED_KEYS:
            keys.append(str(number))
        number += 1
    return keys


@dataclass(frozen=True, slots=True)
class Nav:
    """Which navigation lines a screen shows (the keys work everywhere regardless)."""

    back: bool = False
    home: bool = False


@dataclass(frozen=True, slots=True)
class NavLines:
    """The navigation lines of one language, rendered once."""

    back: str
    home: str
    more: str
    previous: str


class Renderer:
    """Render a MenuSpec's screens; navigation labels are rendered once per language."""

    def __init__(self, spec: MenuSpec) -> None:
        self.spec = spec
        self._nav = {
            lang: NavLines(
                back=f"{BACK}. {spec.message('back', lang)}",
                home=f"{HOME}. {spec.message('home', lang)}",
                more=f"{NEXT_PAGE}. {spec.message('more', lang)}",
                previous=f"{PREVIOUS_PAGE}. {spec.message('previous', lang)}",
            )
            for lang in spec.languages
        }
        self._builtins = spec.builtin_values()

    def nav_lines(self, lang: str) -> NavLines:
        """Return the navigation lines in `lang` (default language when unknown)."""
        return self._nav.get(lang) or self._nav[self.spec.default_language]

    def footer(self, lang: str, nav: Nav, *, first: bool, last: bool) -> list[str]:
        """Return the navigation lines of a page."""
        return self._footer(self.nav_lines(lang), nav, first=first, last=last)

    def values(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Return the placeholder values: built-ins, then session data."""
        values = {**self._builtins, **data}
        # An amount in the city's own currency reads as the city writes it (XOF -> FCFA);
        # another currency (USD beside CDF) keeps its ISO code.
        if values.get("currency") == self.spec.city.currency:
            values["currency"] = self._builtins["currency"]
        return values

    def screen_parts(
        self,
        screen: Screen,
        lang: str,
        data: Mapping[str, Any],
        options: Sequence[tuple[str, str]] | None = None,
    ) -> tuple[str, list[str]]:
        """Return a screen's header text and its option lines, before pagination."""
        values = self.values(data)
        header = screen.text.render(lang, values) if screen.text is not None else ""
        if screen.kind != "menu":
            return header, []
        if screen.options:
            lines = [f"{o.key}. {o.label.render(lang, values)}" for o in screen.options]
        else:
            lines = [f"{key}. {label}" for key, label in options or ()]
        return header, lines

    def pages(
        self,
        lang: str,
        header: str,
        items: Sequence[str],
        nav: Nav,
        *,
        prefix: str | None = None,
    ) -> list[str]:
        """Cut header and items into pages that each fit one screen, footers included."""
        nav_lines = self.nav_lines(lang)
        head = [part for part in (prefix, header) if part]
        whole = [*head, *items]
        single = [*whole, *self._footer(nav_lines, nav, first=True, last=True)]
        if fits(single):
            return ["\n".join(single)]
        # Worst footer on every page while packing: the last page only gets shorter.
        units: list[str] = []
        worst = self._footer(nav_lines, nav, first=False, last=False)
        for part in head:
            units.extend(_split_to_fit(part, worst))
        for item in items:
            units.extend(_split_to_fit(item, worst))
        packed: list[list[str]] = []
        current: list[str] = []
        for unit in units:
            footer = self._footer(nav_lines, nav, first=not packed, last=False)
            if not current or fits([*current, unit, *footer]):
                current.append(unit)
            else:
                packed.append(current)
                current = [unit]
        packed.append(current)
        last = len(packed) - 1
        return [
            "\n".join([*lines, *self._footer(nav_lines, nav, first=index == 0, last=index == last)])
            for index, lines in enumerate(packed)
        ]

    @staticmethod
    def _footer(lines: NavLines, nav: Nav, *, first: bool, last: bool) -> list[str]:
        footer: list[str] = []
        if not last:
            footer.append(lines.more)
        if not first:
            footer.append(lines.previous)
        if nav.back:
            footer.append(lines.back)
        if nav.home:
            footer.append(lines.home)
        return footer


def _split_to_fit(text: str, footer: Sequence[str]) -> Iterator[str]:
    """Yield pieces of `text`, cut at spaces (or anywhere for a huge word), that fit."""
    if fits([text, *footer]):
        yield text
        return
    piece = ""
    for word in text.split(" "):
        candidate = f"{piece} {word}" if piece else word
        if fits([candidate, *footer]):
            piece = candidate
            continue
        if piece:
            yield piece
        rest = word
        while not fits([rest, *footer]):
            cut = _longest_prefix(rest, footer)
            yield rest[:cut]
            rest = rest[cut:]
        piece = rest
    if piece:
        yield piece


def _longest_prefix(word: str, footer: Sequence[str]) -> int:
    low, high = 1, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if fits([word[:middle], *footer]):
            low = middle
        else:
            high = middle - 1
    return low
