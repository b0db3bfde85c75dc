"""Read an inbound SMS as a command: tolerant of case, accents, spacing and the language used.

Pure: no I/O. `STATUT 1234567`, ` statut:1234567 `, `Hali 123 4567`, `reçu 1234-5678`,
`annuler 1234 5678`, `deplacer 1234 5678 08/12 09h30` and `LANGUE english` all parse;
anything else is UNKNOWN (answered with a short help).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final


class Keyword(StrEnum):
    """What an inbound SMS asks for."""

    STATUS = "status"
    RECEIPT = "receipt"
    HELP = "help"
    STOP = "stop"
    START = "start"
    LANGUAGE = "language"
    MY_DATA = "my_data"
    CANCEL = "cancel"  # an appointment, by its booking code
    MOVE = "move"  # an appointment, by its booking code, to a day and a time
    ORDER = "order"  # a document, by its number in the list the bare keyword answers
    UNKNOWN = "unknown"


# The words themselves live in the city pack's sms_templates.yaml (`keywords:` and
# `language_names:`), one list per command and language; this module only reads them.
ANY_LANGUAGE: Final = "any"  # a word that means the command in every language (STOP, INFO)
# Commands a pack may leave without a word: citizens order by SMS only where the city wants it.
OPTIONAL_COMMANDS: Final = frozenset({Keyword.UNKNOWN, Keyword.ORDER})


class VocabularyError(ValueError):
    """The pack's keyword lists are malformed (unknown command, empty word, a clash)."""


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Every word an inbound SMS may start with: the command it means and the language it hints."""

    synonyms: Mapping[str, tuple[Keyword, str | None]]
    language_names: Mapping[str, str]
    pattern: re.Pattern[str]

    @classmethod
    def from_data(
        cls,
        keywords: Mapping[str, Any],
        language_names: Mapping[str, Any],
        languages: tuple[str, ...],
    ) -> Vocabulary:
        """Build from `keywords:` {command: {lang|any: [words]}} and `language_names:`."""
        synonyms: dict[str, tuple[Keyword, str | None]] = {}
        known = {k.value for k in Keyword} - {Keyword.UNKNOWN.value}
        for command, per_language in keywords.items():
            if command not in known:
                raise VocabularyError(
                    f"keywords.{command}: not a command ({', '.join(sorted(known))})"
                )
            for lang, words in _lists(f"keywords.{command}", per_language):
                if lang not in languages and lang != ANY_LANGUAGE:
                    raise VocabularyError(f"keywords.{command}.{lang}: not a language of the pack")
                for word in words:
                    hint = None if lang == ANY_LANGUAGE else lang
                    if word in synonyms:
                        if synonyms[word][0] != Keyword(command):
                            raise VocabularyError(f"keywords: {word!r} means two commands")
                        # The same word in two languages (STATUS in en and nl) hints neither.
                        hint = hint if synonyms[word][1] == hint else None
                    synonyms[word] = (Keyword(command), hint)
        names: dict[str, str] = {}
        for lang, words in _lists("language_names", language_names):
            if lang not in languages:
                raise VocabularyError(f"language_names.{lang}: not a language of the pack")
            names.update(dict.fromkeys(words, lang))
        if not synonyms:
            raise VocabularyError("keywords: required (the words citizens may text, per language)")
        # Every command the router answers needs a word; ordering by SMS is a pack's choice.
        meant = {keyword for keyword, _ in synonyms.values()}
        missing = [k.value for k in Keyword if k not in meant and k not in OPTIONAL_COMMANDS]
        if missing:
            raise VocabularyError(f"keywords: no word for {', '.join(missing)}")
        # Longest first, so STATUS is tried before STATUT's neighbours and STARTs match whole;
        # a word must not run on into a letter (STOPPER is not STOP), digits may follow.
        alternatives = "|".join(re.escape(w) for w in sorted(synonyms, key=len, reverse=True))
        pattern = re.compile(r"^(" + alternatives + r")(?![^\W\d_])[\s:#.,\-]*(.*)$")
        return cls(synonyms=synonyms, language_names=names, pattern=pattern)


def _lists(where: str, raw: Any) -> list[tuple[str, list[str]]]:
    """Return (language, normalized words) pairs; a word is compared as citizens' texts are."""
    if not isinstance(raw, Mapping):
        raise VocabularyError(f"{where}: expected a mapping of language to a list of words")
    pairs = []
    for lang, words in raw.items():
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise VocabularyError(f"{where}.{lang}: expected a list of non-empty words")
        pairs.append((str(lang), [normalize(w) for w in words]))
    return pairs


_SEPARATORS: Final = re.compile(r"[\s\-./]+")
# `<code> <dd/mm[/yyyy]> <hh:mm>`: the code may be typed in groups, the time as 09:30 or 09H30.
_MOVE: Final = re.compile(
    r"^(?P<code>[\d\s\-.]+?)\s+(?P<day>\d{1,2}/\d{1,2}(?:/\d{4})?)\s+(?P<hour>\d{1,2})[:H](?P<min>\d{2})$"
)


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed inbound SMS: the keyword, its argument (normalized) and a language hint."""

    keyword: Keyword
    argument: str = ""
    lang_hint: str | None = None


def normalize(text: str) -> str:
    """Fold accents, case and runs of spaces: ` Reçu  12 ` -> `RECU 12`."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.upper().split())


def parse(text: str, vocabulary: Vocabulary) -> Command:
    """Return the command an inbound SMS carries (UNKNOWN when none matches)."""
    normalized = normalize(text)
    match = vocabulary.pattern.match(normalized)
    if match is None:
        return Command(Keyword.UNKNOWN)
    keyword, hint = vocabulary.synonyms[match.group(1)]
    rest = match.group(2).strip()
    if keyword == Keyword.STATUS:
        # References are digits; people type them in groups ("123 4567", "123-4567").
        return Command(keyword, _SEPARATORS.sub("", rest), hint)
    if keyword in (Keyword.RECEIPT, Keyword.CANCEL, Keyword.ORDER):
        return Command(keyword, _SEPARATORS.sub("", rest), hint)
    if keyword == Keyword.MOVE:
        return Command(keyword, _move_argument(rest), hint)
    if keyword == Keyword.LANGUAGE:
        first = rest.split(" ", 1)[0] if rest else ""
        return Command(keyword, vocabulary.language_names.get(first, ""), hint)
    return Command(keyword, "", hint)


def _move_argument(rest: str) -> str:
    """Return `<code> <dd/mm[/yyyy]> <hh:mm>` normalized, or "" when it is not written so."""
    match = _MOVE.match(rest)
    if match is None:
        return ""
    code = _SEPARATORS.sub("", match["code"])
    return f"{code} {match['day']} {int(match['hour']):02d}:{match['min']}"
