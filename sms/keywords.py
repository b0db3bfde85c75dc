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
    UNKNOWN = "unknown"


# Every synonym, the command it means and the language it suggests (None: any language).
SYNONYMS: Final[dict[str, tuple[Keyword, str | None]]] = {
    "STATUT": (Keyword.STATUS, "fr"),
    "SUIVI": (Keyword.STATUS, "fr"),
    "STATUS": (Keyword.STATUS, "en"),
    "HALI": (Keyword.STATUS, "sw"),
    "RECU": (Keyword.RECEIPT, "fr"),
    "RECEIPT": (Keyword.RECEIPT, "en"),
    "RISITI": (Keyword.RECEIPT, "sw"),
    "AIDE": (Keyword.HELP, "fr"),
    "HELP": (Keyword.HELP, "en"),
    "MSAADA": (Keyword.HELP, "sw"),
    "INFO": (Keyword.HELP, None),
    "STOP": (Keyword.STOP, None),
    "ARRET": (Keyword.STOP, "fr"),
    "ACHA": (Keyword.STOP, "sw"),
    "START": (Keyword.START, None),
    "ANZA": (Keyword.START, "sw"),
    "LANGUE": (Keyword.LANGUAGE, "fr"),
    "LANGUAGE": (Keyword.LANGUAGE, "en"),
    "LUGHA": (Keyword.LANGUAGE, "sw"),
    # How to get a copy of, or erase, what the city holds about this phone (README).
    "MES DONNEES": (Keyword.MY_DATA, "fr"),
    "MY DATA": (Keyword.MY_DATA, "en"),
    "DATA YANGU": (Keyword.MY_DATA, "sw"),
    "TAARIFA ZANGU": (Keyword.MY_DATA, "sw"),
    "ANNULER": (Keyword.CANCEL, "fr"),
    "CANCEL": (Keyword.CANCEL, "en"),
    "GHAIRI": (Keyword.CANCEL, "sw"),
    "DEPLACER": (Keyword.MOVE, "fr"),
    "MOVE": (Keyword.MOVE, "en"),
    "HAMISHA": (Keyword.MOVE, "sw"),
}
LANGUAGE_NAMES: Final = {
    "FR": "fr",
    "FRANCAIS": "fr",
    "FRENCH": "fr",
    "KIFARANSA": "fr",
    "EN": "en",
    "ENGLISH": "en",
    "ANGLAIS": "en",
    "KIINGEREZA": "en",
    "SW": "sw",
    "SWAHILI": "sw",
    "KISWAHILI": "sw",
}


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The words a city's SMS commands are written in (its pack's sms_templates.yaml)."""

    synonyms: Mapping[str, tuple[Keyword, str | None]]
    language_names: Mapping[str, str]
    pattern: re.Pattern[str]

    @classmethod
    def build(
        cls, synonyms: Mapping[str, tuple[Keyword, str | None]], language_names: Mapping[str, str]
    ) -> Vocabulary:
        """Compile a vocabulary; words are matched after normalize()."""
        words = {normalize(word): meaning for word, meaning in synonyms.items()}
        # Longest first, so STATUS is tried before STATUT's shorter neighbours and STARTs match
        # whole.
        alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        return cls(
            words,
            {normalize(name): lang for name, lang in language_names.items()},
            re.compile(r"^(" + alternatives + r")(?![A-Z])[\s:#.,\-]*(.*)$"),
        )

    @classmethod
    def from_data(cls, keywords: Any, language_names: Any) -> Vocabulary:
        """Build from `keywords: {status: {fr: [STATUT]}, ...}` and `language_names: {fr: [FR]}`.

        A word under `any` suggests no language. Raise ValueError naming what is malformed.
        """
        if not isinstance(keywords, Mapping) or not isinstance(language_names, Mapping):
            raise ValueError("keywords and language_names must be mappings")
        synonyms: dict[str, tuple[Keyword, str | None]] = {}
        for name, by_lang in keywords.items():
            try:
                keyword = Keyword(str(name))
            except ValueError:
                raise ValueError(f"keywords.{name}: not a command") from None
            if keyword is Keyword.UNKNOWN or not isinstance(by_lang, Mapping):
                raise ValueError(f"keywords.{name}: expected {{lang: [WORD, ...]}}")
            for lang, words in by_lang.items():
                for word in words or ():
                    synonyms[str(word)] = (keyword, None if lang == "any" else str(lang))
        missing = sorted(k.value for k in Keyword if k is not Keyword.UNKNOWN)
        missing = [k for k in missing if Keyword(k) not in {m for m, _ in synonyms.values()}]
        if missing:
            raise ValueError(f"keywords: no word for {', '.join(missing)}")
        names = {
            str(word): str(lang) for lang, words in language_names.items() for word in words or ()
        }
        return cls.build(synonyms, names)


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


def parse(text: str, vocabulary: Vocabulary | None = None) -> Command:
    """Return the command an inbound SMS carries (UNKNOWN when none matches)."""
    words = vocabulary or DEFAULT_VOCABULARY
    normalized = normalize(text)
    match = words.pattern.match(normalized)
    if match is None:
        return Command(Keyword.UNKNOWN)
    keyword, hint = words.synonyms[match.group(1)]
    rest = match.group(2).strip()
    if keyword == Keyword.STATUS:
        # References are digits; people type them in groups ("123 4567", "123-4567").
        return Command(keyword, _SEPARATORS.sub("", rest), hint)
    if keyword in (Keyword.RECEIPT, Keyword.CANCEL):
        return Command(keyword, _SEPARATORS.sub("", rest), hint)
    if keyword == Keyword.MOVE:
        return Command(keyword, _move_argument(rest), hint)
    if keyword == Keyword.LANGUAGE:
        first = rest.split(" ", 1)[0] if rest else ""
        return Command(keyword, words.language_names.get(first, ""), hint)
    return Command(keyword, "", hint)


def _move_argument(rest: str) -> str:
    """Return `<code> <dd/mm[/yyyy]> <hh:mm>` normalized, or "" when it is not written so."""
    match = _MOVE.match(rest)
    if match is None:
        return ""
    code = _SEPARATORS.sub("", match["code"])
    return f"{code} {match['day']} {int(match['hour']):02d}:{match['min']}"


# The words of a pack whose sms_templates.yaml declares no `keywords:` (fr, en, sw).
DEFAULT_VOCABULARY: Final = Vocabulary.build(SYNONYMS, LANGUAGE_NAMES)
