"""SMS templates from sms_templates.yaml: loading, rendering, transliteration, measuring.

Texts live in data; this module only fills `{name}` placeholders with values cut to their
declared maximum length, so the worst case the checker measures is the worst case sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from sms.keywords import Keyword, Vocabulary, VocabularyError
from text.encoding import cost

# Keys other packages send (docs/contracts.md) and keys the inbound router replies with.
CONTRACT_KEYS: Final = frozenset(
    {
        "request_created",
        "request_created_visit",
        "request_in_review",
        "request_approved",
        "request_delivered",
        "request_needs_visit",
        "request_rejected",
        "request_ready_for_pickup",
        "payment_receipt",
        "payment_failed_cancelled",
        "payment_failed_insufficient_funds",
        "payment_failed_timeout",
        "payment_failed_wrong_pin",
        "payment_failed_invalid_number",
        "payment_failed_other",
        "otp",
        "otp_counter",
    }
)
REPLY_KEYS: Final = frozenset(
    {
        "reply_help",
        "reply_unknown",
        "reply_status_unknown",
        "reply_status_limited",
        "reply_status_mistyped",
        "reply_status_missing",
        "reply_receipt_valid",
        "reply_receipt_unknown",
        "reply_receipt_mistyped",
        "reply_receipt_none",
        "reply_receipt_latest",
        "reply_unavailable",
        "reply_stop",
        "reply_start",
        "reply_language",
        "reply_language_missing",
        "reply_rate_limited",
    }
)
# Keys a pack needs only when its citizens may order documents by SMS (a `keywords.order`).
ORDER_KEYS: Final = frozenset({"reply_order_list", "reply_order_unknown", "reply_order_identity"})
ESSENTIAL: Final = "essential"  # never refused for the daily budget or STOP
NOTICE: Final = "notice"  # the city's own initiative: budget and STOP apply
CLASSES: Final = (ESSENTIAL, NOTICE)
SECRET_MASK: Final = "•" * 6  # what the message log keeps of a secret parameter
_PLACEHOLDER: Final = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
# Worst-case fillers: one septet for GSM-7 values, a character outside GSM-7 for the others.
_GSM_FILL: Final = "a"
_UCS2_FILL: Final = "ê"


class TemplateError(ValueError):
    """The template file is malformed, or a send names an unknown template or parameter."""


@dataclass(frozen=True, slots=True)
class Param:
    """A value a template may carry: its longest accepted length and whether it may be UCS-2."""

    name: str
    max_length: int
    ucs2: bool = False
    noun: bool = False  # a name: no article may be glued to it (text.grammar)
    secret: bool = False  # never kept in the message log (an OTP code)

    def worst_case(self) -> str:
        """Return the longest, most expensive value the checker assumes."""
        return (_UCS2_FILL if self.ucs2 else _GSM_FILL) * self.max_length


@dataclass(frozen=True, slots=True)
class Template:
    """One message in every language."""

    key: str
    params: tuple[str, ...]
    max_segments: int
    texts: Mapping[str, str]
    klass: str = ESSENTIAL  # `class:` in the file: essential or notice

    @property
    def essential(self) -> bool:
        """Return True when the daily budget and STOP never refuse this template."""
        return self.klass == ESSENTIAL


@dataclass(frozen=True, slots=True)
class Transliteration:
    """A city's replacements for non-GSM characters, applied all-or-nothing."""

    apply: bool
    table: tuple[tuple[str, str], ...] = ()

    def transliterate(self, text: str) -> str:
        """Return `text` with every mapped sequence replaced (longest sequences first)."""
        for source, target in self.table:
            text = text.replace(source, target)
        return text

    def attempt(self, text: str) -> str | None:
        """Return the transliterated text when it becomes GSM-7, else None."""
        if cost(text).is_gsm7:
            return None
        candidate = self.transliterate(text)
        return candidate if cost(candidate).is_gsm7 else None

    def policy(self, text: str) -> str:
        """Return what is sent: transliterated only if enabled and the whole text becomes GSM-7."""
        if not self.apply:
            return text
        candidate = self.attempt(text)
        return text if candidate is None else candidate


@dataclass(frozen=True, slots=True)
class TemplateBook:
    """Every template, the declared parameters and the city's transliteration policy."""

    languages: tuple[str, ...]
    params: Mapping[str, Param]
    templates: Mapping[str, Template]
    transliteration: Transliteration
    vocabulary: Vocabulary | None  # None only when `problems` says why
    problems: tuple[str, ...] = field(default=())

    @property
    def default_language(self) -> str:
        """Return the language used when a phone has none (the first listed)."""
        return self.languages[0]

    @property
    def keywords(self) -> Vocabulary:
        """Return the words citizens may text (a strictly loaded book always has them)."""
        if self.vocabulary is None:
            raise TemplateError(
                "the SMS templates have no usable keywords: " + "; ".join(self.problems)
            )
        return self.vocabulary

    def language(self, lang: str | None) -> str:
        """Return `lang` when the book speaks it, else the default language."""
        return lang if lang in self.languages else self.default_language

    def template(self, key: str) -> Template:
        """Return the template `key`, or raise TemplateError."""
        try:
            return self.templates[key]
        except KeyError:
            raise TemplateError(f"unknown SMS template {key!r}") from None

    def render(self, key: str, lang: str | None, values: Mapping[str, str | int]) -> str:
        """Fill template `key` in `lang`; values are cut to their declared maximum length."""
        template = self.template(key)
        missing = set(template.params) - set(values)
        if missing:
            raise TemplateError(f"template {key!r} needs {', '.join(sorted(missing))}")
        text = template.texts[self.language(lang)]

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:  # only a malformed file gets here; the checker reports it
                return match.group(0)
            param = self.params.get(name)
            value = str(values[name])
            return value if param is None else value[: param.max_length]

        return _PLACEHOLDER.sub(fill, text)

    def loggable(self, key: str, values: Mapping[str, str | int]) -> dict[str, str]:
        """Return the parameters as the message log may keep them: secret ones masked."""
        template = self.template(key)
        return {
            name: SECRET_MASK if self.params.get(name, Param(name, 1)).secret else str(value)
            for name, value in values.items()
            if name in template.params
        }

    def message(self, key: str, lang: str | None, values: Mapping[str, str | int]) -> str:
        """Return the text to send: rendered, then the city's transliteration policy."""
        return self.transliteration.policy(self.render(key, lang, values))

    def worst_case(self, key: str, lang: str) -> str:
        """Render `key` in `lang` with every parameter at its longest and costliest."""
        template = self.template(key)
        return self.render(
            key,
            lang,
            {
                name: self.params[name].worst_case()
                for name in template.params
                if name in self.params
            },
        )


def load(path: str | Path) -> TemplateBook:
    """Load a template file; structural problems are collected in `problems`, not raised."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read SMS templates {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise TemplateError(f"{path}: expected a mapping at the top level")
    problems: list[str] = []
    # The city pack's languages: every template carries each of them (its menus' languages).
    languages = tuple(str(lang) for lang in raw.get("languages") or ())
    if not languages:
        problems.append("languages: required (the city's languages, default first)")
    params = _load_params(raw.get("params") or {}, problems)
    templates = {
        str(key): _load_template(str(key), body, languages, params, problems)
        for key, body in (raw.get("templates") or {}).items()
    }
    for key in sorted((CONTRACT_KEYS | REPLY_KEYS) - set(templates)):
        problems.append(f"{key}: template missing")
    try:
        vocabulary: Vocabulary | None = Vocabulary.from_data(
            raw.get("keywords") or {}, raw.get("language_names") or {}, languages
        )
    except VocabularyError as exc:
        problems.append(str(exc))
        vocabulary = None
    if vocabulary is not None and Keyword.ORDER in {k for k, _ in vocabulary.synonyms.values()}:
        for key in sorted(ORDER_KEYS - set(templates)):
            problems.append(f"{key}: template missing (keywords.order lets citizens order by SMS)")
    return TemplateBook(
        languages=languages,
        params=params,
        templates=templates,
        transliteration=_load_transliteration(raw.get("transliteration") or {}),
        vocabulary=vocabulary,
        problems=tuple(problems),
    )


def load_strict(path: str | Path) -> TemplateBook:
    """Load a template file and refuse it when it has any structural problem."""
    book = load(path)
    if book.problems:
        raise TemplateError(f"{path}: " + "; ".join(book.problems))
    return book


def _load_params(raw: Mapping[str, Any], problems: list[str]) -> dict[str, Param]:
    params: dict[str, Param] = {}
    for name, spec in raw.items():
        max_length = (spec or {}).get("max_length")
        if not isinstance(max_length, int) or max_length < 1:
            problems.append(f"params.{name}: max_length must be a positive integer")
            max_length = 1
        params[str(name)] = Param(
            str(name),
            max_length,
            bool((spec or {}).get("ucs2", False)),
            bool((spec or {}).get("noun", False)),
            bool((spec or {}).get("secret", False)),
        )
    return params


def _load_template(
    key: str,
    body: Any,
    languages: tuple[str, ...],
    params: Mapping[str, Param],
    problems: list[str],
) -> Template:
    body = body if isinstance(body, dict) else {}
    declared = tuple(str(p) for p in body.get("params") or ())
    max_segments = body.get("max_segments")
    if not isinstance(max_segments, int) or max_segments < 1:
        problems.append(f"{key}: max_segments must be a positive integer")
        max_segments = 1
    texts = {str(lang): str(text) for lang, text in (body.get("text") or {}).items()}
    klass = body.get("class")
    if klass not in CLASSES:
        problems.append(f"{key}: class must be essential or notice, not {klass!r}")
        klass = NOTICE  # an unclassified template is treated as the one that may be refused
    for name in declared:
        if name not in params:
            problems.append(f"{key}: parameter {name} has no max_length under params")
    for lang in languages:
        if lang not in texts:
            problems.append(f"{key}: no {lang} text")
            continue
        for name in _PLACEHOLDER.findall(texts[lang]):
            if name not in declared:
                problems.append(f"{key}.{lang}: {{{name}}} is not in the template's params")
    return Template(key, declared, max_segments, texts, str(klass))


def _load_transliteration(raw: Mapping[str, Any]) -> Transliteration:
    table = sorted(
        ((str(src), str(dst)) for src, dst in (raw.get("map") or {}).items()),
        key=lambda pair: -len(pair[0]),
    )
    return Transliteration(apply=bool(raw.get("apply", False)), table=tuple(table))
