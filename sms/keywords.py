"""Read an inbound SMS as a command: tolerant of case, accents, spacing and the language used.

Pure: no I/O. `STATUT 1234567`, ` statut:1234567 `, `Hali 123 4567`, `reçu 1234-5678`,
`annuler 1234 5678`, `deplacer 1234 5678 08/12 09h30` and `LANGUE english` all parse;
anything else is UNKNOWN (answered with a short help).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


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
# Longest first, so STATUS is tried before STATUT's shorter neighbours and STARTs match whole.
_PATTERN: Final = re.compile(
    r"^(" + "|".join(sorted(SYNONYMS, key=len, reverse=True)) + r")(?![A-Z])[\s:#.,\-]*(.*)$"
)
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


def parse(text: str) -> Command:
    """Return the command an inbound SMS carries (UNKNOWN when none matches)."""
    normalized = normalize(text)
    match = _PATTERN.match(normalized)
    if match is None:
        return Command(Keyword.UNKNOWN)
    keyword, hint = SYNONYMS[match.group(1)]
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
        return Command(keyword, LANGUAGE_NAMES.get(first, ""), hint)
    return Command(keyword, "", hint)


def _move_argument(rest: str) -> str:
    """Return `<code> <dd/mm[/yyyy]> <hh:mm>` normalized, or "" when it is not written so."""
    match = _MOVE.match(rest)
    if match is None:
        return ""
    code = _SEPARATORS.sub("", match["code"])
    return f"{code} {match['day']} {int(match['hour']):02d}:{match['min']}"
