"""What a citizen reads about a decision: agent text made safe, coded reasons and offices in
the citizen's language.

Agents type free text in their own language; citizens read French, English or Swahili. So a
decision carries a reason code or an office id (texts per language in the catalogue) and the
agent's free text is only appended. Any agent text loses control characters (NUL included)
and bidirectional overrides, which could hide or reorder what an SMS or a screen shows.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from civic.ports import Decision, DocumentRequest, DocumentType, Localized, Office, RequestStatus

# Explicit direction marks, embeddings, overrides and isolates (Unicode bidi controls).
_BIDI: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SPACES: Final = re.compile(r"\s+")
_STATUS_DECISION: Final = {
    RequestStatus.REJECTED: Decision.REJECT,
    RequestStatus.NEEDS_VISIT: Decision.NEEDS_VISIT,
    RequestStatus.APPOINTMENT_NEEDED: Decision.APPOINTMENT_NEEDED,
}


def clean_agent_text(value: str | None) -> str | None:
    """Return `value` without control or bidi-override characters; None when blank."""
    if value is None:
        return None
    kept = "".join(
        " " if char.isspace() else char
        for char in value
        if char.isspace() or (char not in _BIDI and unicodedata.category(char) != "Cc")
    )
    text = _SPACES.sub(" ", kept).strip()
    return text or None


def local(texts: Localized, lang: str, default: str = "fr") -> str:
    """Return the text in `lang`, else the city's default language, else any."""
    return texts.get(lang) or texts.get(default) or next(iter(texts.values()), "")


def _joined(main: str, extra: str | None) -> str:
    extra = clean_agent_text(extra)
    if not main:
        return extra or ""
    return f"{main}. {extra}" if extra else main


def reason_text(request: DocumentRequest, document: DocumentType | None, lang: str) -> str:
    """Return why a request was refused or needs a visit, in `lang` (+ the agent's words)."""
    decision = _STATUS_DECISION.get(request.status)
    coded = None
    if document is not None and request.reason_code and decision is not None:
        coded = document.reason(request.reason_code, decision)
    main = ""
    if coded is not None:
        main = clean_agent_text(local(coded.texts, lang)) or ""
    return _joined(main, request.reason)


def pickup_text(office: Office | None, free: str | None, lang: str) -> str:
    """Return where and when to collect a document, in `lang` (+ the agent's words)."""
    main = ""
    if office is not None:
        parts = (local(office.names, lang), local(office.address, lang), local(office.hours, lang))
        main = ", ".join(p for p in (clean_agent_text(x) for x in parts) if p)
    return _joined(main, free)


def document_name(document: DocumentType | None, code: str, lang: str) -> str:
    """Return the document's name in `lang`, or its code when the catalogue lost it."""
    return local(document.names, lang) if document is not None else code
