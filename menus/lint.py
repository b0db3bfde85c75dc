"""`python -m menus lint`: everything wrong with a menus file, one line per problem.

On top of what the loader refuses (schema, unknown targets and actions, undeclared
placeholders, reserved keys), the linter reports unreachable screens, missing translations,
action outcomes a screen does not handle, and screens that cannot fit a USSD screen in some
language with every placeholder at its declared worst case.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from menus.actions import default_registry
from menus.catalogue_lint import catalogue_problems, default_catalogue
from menus.loader import (
    MenuError,
    Problem,
    compile_spec,
    iter_texts,
    read_document,
    structural_problems,
)
from menus.model import SKIP_FIELD, MenuSpec, Screen
from menus.payable_lint import payable_kind_problems
from menus.registry import Registry
from menus.render import Nav, Renderer
from menus.workflow_lint import workflow_problems
from text.encoding import cost
from text.grammar import glued_articles

# Label length assumed for options_from actions registered without option_label_max.
DEFAULT_OPTION_LABEL_MAX: Final = 30
# The widest dynamic key the renderer prints on a page ("97." before the 98/99 gap).
_WIDEST_KEY: Final = "97"
# A screen holding a `paged` placeholder (agents' words) may take this many pages at most. The
# worst case is the longest text in UCS-2 (80 a screen, half of it navigation lines); the same
# text in GSM-7 takes 2 or 3 pages.
MAX_PAGES: Final = 10


@dataclass(frozen=True, slots=True)
class Report:
    """What the linter found."""

    source: str
    problems: list[Problem]
    screens: int = 0
    languages: int = 0

    @property
    def ok(self) -> bool:
        """Return True when nothing is wrong."""
        return not self.problems

    def lines(self) -> list[str]:
        """Return one `path:screen.field: message` line per problem, or the summary."""
        if self.ok:
            return [
                f"{self.source}: ok ({self.screens} screens, {self.languages} languages, "
                "every screen fits)"
            ]
        return [problem.line(self.source) for problem in self.problems]


def lint(
    path: str | Path, registry: Registry | None = None, catalogue: str | Path | None = None
) -> Report:
    """Check a menus file (and the catalogue beside it: menus.catalogue_lint); return problems."""
    source = str(path)
    try:
        document = read_document(path)
    except MenuError as exc:
        return Report(source, exc.problems)
    registry = registry if registry is not None else default_registry()
    problems = structural_problems(document, registry)
    if problems:
        return Report(source, problems)
    spec = compile_spec(document, source=source)
    problems = [
        *_unreachable(spec),
        *_missing_translations(document),
        *_unhandled_outcomes(spec, registry),
        *_too_long(spec, registry),
        *_glued(document, spec),
    ]
    found = Path(catalogue) if catalogue is not None else default_catalogue(path)
    if found is not None:
        problems.extend(catalogue_problems(spec, found))
        problems.extend(workflow_problems(found, document))
        problems.extend(payable_kind_problems(found, spec.languages))
    return Report(source, problems, len(spec.screens), len(spec.languages))


def successors(screen: Screen) -> Iterator[str]:
    """Yield every screen `screen` can lead to."""
    for option in screen.options:
        yield option.next
    if screen.typed is not None:
        yield screen.typed.next
    for target in (screen.next, screen.empty):
        if target is not None:
            yield target
    yield from screen.on.values()


def _unreachable(spec: MenuSpec) -> Iterator[Problem]:
    seen = {spec.start}
    queue = deque([spec.start])
    while queue:
        for target in successors(spec.screens[queue.popleft()]):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    for screen_id in spec.screens:
        if screen_id not in seen:
            yield Problem(f"screens.{screen_id}", f"unreachable from {spec.start!r}")


def _missing_translations(document: Mapping[str, Any]) -> Iterator[Problem]:
    languages: list[str] = document["languages"]
    for _, path, text in iter_texts(document):
        missing = [lang for lang in languages if lang not in text]
        if missing:
            yield Problem(path, f"missing translation: {', '.join(missing)}")


def _glued(document: Mapping[str, Any], spec: MenuSpec) -> Iterator[Problem]:
    # Names (declared `noun: true`, and the city): "a {operator_name}" reads "a Airtel Money".
    nouns = {name for name, p in spec.placeholders.items() if p.noun} | {"city"}
    for _, path, text in iter_texts(document):
        for lang, source in text.items():
            for glued in glued_articles(lang, str(source), nouns):
                yield Problem(f"{path}.{lang}", f"article glued to a name: {glued!r}; rephrase")


def _unhandled_outcomes(spec: MenuSpec, registry: Registry) -> Iterator[Problem]:
    for screen in spec.screens.values():
        if screen.kind != "action" or screen.action is None:
            continue
        # `error` may stay unmapped: the engine then ends with the `unavailable` message.
        unhandled = registry.get(screen.action).outcomes - set(screen.on) - {"error"}
        for outcome in sorted(unhandled):
            yield Problem(
                f"screens.{screen.id}.on", f"outcome {outcome!r} of {screen.action!r} not handled"
            )


def _worst_values(spec: MenuSpec) -> dict[str, str]:
    # "ê" is outside GSM-7: a ucs2 placeholder forces the whole screen to the 80 budget.
    return {
        name: ("ê" if placeholder.ucs2 else "x") * placeholder.max_length
        for name, placeholder in spec.placeholders.items()
    }


def _too_long(spec: MenuSpec, registry: Registry) -> Iterator[Problem]:
    renderer = Renderer(spec)
    worst = _worst_values(spec)
    full_nav = Nav(back=True, home=True)
    for lang in spec.languages:
        nav = renderer.nav_lines(lang)
        for key in spec.messages:
            body = spec.message(key, lang, renderer.values(worst))
            yield from _measure(f"messages.{key}", lang, [body])
        for screen in spec.screens.values():
            path = f"screens.{screen.id}"
            if screen.kind == "action":
                continue
            if _uses_paged(spec, screen):
                yield from _measure_pages(renderer, screen, lang, worst, path)
                continue
            if screen.kind == "end":
                header, _ = renderer.screen_parts(screen, lang, worst)
                yield from _measure(path, lang, [header])
                continue
            footer = renderer.footer(lang, full_nav, first=True, last=True)
            if screen.kind == "form":
                yield from _form_too_long(spec, registry, screen, lang, (worst, footer))
                continue
            if screen.kind == "input":
                header, _ = renderer.screen_parts(screen, lang, worst)
                errors = [v.error for v in screen.validators if v.error is not None]
                errors.append(screen.error or spec.messages["invalid_input"])
                for error in errors:
                    prefix = error.render(lang, renderer.values(worst))
                    yield from _measure(path, lang, [prefix, header, *footer])
            elif screen.options:
                header, items = renderer.screen_parts(screen, lang, worst)
                yield from _measure(path, lang, [header, *items, *footer])
            else:
                assert screen.options_from is not None
                limit = registry.get(screen.options_from).option_label_max
                label = "x" * (limit or DEFAULT_OPTION_LABEL_MAX)
                header, items = renderer.screen_parts(screen, lang, worst, [(_WIDEST_KEY, label)])
                paged = [nav.more, nav.previous, nav.back, nav.home]
                yield from _measure(path, lang, [header, *items, *paged])


def _uses_paged(spec: MenuSpec, screen: Screen) -> bool:
    if screen.text is None:
        return False
    names = {name for t in screen.text.variants.values() for name in t.names}
    return any(spec.placeholders[n].paged for n in names if n in spec.placeholders)


def _measure_pages(
    renderer: Renderer, screen: Screen, lang: str, worst: Mapping[str, str], path: str
) -> Iterator[Problem]:
    """Render a screen at worst case as the engine pages it: each page fits, few pages."""
    header, items = renderer.screen_parts(screen, lang, worst)
    nav = Nav() if screen.kind == "end" else Nav(back=True, home=True)
    pages = renderer.pages(lang, header, items, nav)
    for page in pages:
        yield from _measure(path, lang, [page])
    if len(pages) > MAX_PAGES:
        yield Problem(path, f"[{lang}] {len(pages)} pages at worst case, more than {MAX_PAGES}")


def _form_too_long(
    spec: MenuSpec,
    registry: Registry,
    screen: Screen,
    lang: str,
    worst_and_footer: tuple[Mapping[str, str], Sequence[str]],
) -> Iterator[Problem]:
    """Measure a form's field screen: its text, the longest label, skip line, each error."""
    worst, footer = worst_and_footer
    renderer = Renderer(spec)
    assert screen.fields_from is not None
    limit = registry.get(screen.fields_from).option_label_max or DEFAULT_OPTION_LABEL_MAX
    header = screen.text.render(lang, renderer.values(worst)) if screen.text else ""
    skip = f"{SKIP_FIELD}. {spec.message('skip', lang)}" if "skip" in spec.messages else ""
    errors = [key for key in spec.messages if key.startswith("field_")] or ["invalid_input"]
    for key in errors:
        prefix = spec.message(key, lang, renderer.values(worst))
        yield from _measure(
            f"screens.{screen.id}", lang, [prefix, header, "x" * limit, skip, *footer]
        )


def _measure(path: str, lang: str, lines: Sequence[str]) -> Iterator[Problem]:
    measured = cost("\n".join(line for line in lines if line))
    if not measured.fits_ussd:
        why = f", forced by {''.join(measured.non_gsm)!r}" if measured.non_gsm else ""
        yield Problem(
            path,
            f"[{lang}] {measured.units} characters at worst case, over the "
            f"{measured.ussd_limit} of a {measured.encoding} screen{why}",
        )
