"""One USSD session as it lives in Redis: where the caller is and what they typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class Session:
    """A caller's position in the menus, their answers and the last reply (for retries)."""

    session_id: str
    msisdn: str
    state: str
    lang: str
    data: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)  # screens to go back to, oldest first
    page: int = 0
    pages: int = 1
    text: str = ""  # the aggregator's cumulative text at the last hop
    reply: tuple[bool, str] | None = None  # (end, body) of the last hop, replayed on a retry
    tries: int = 0  # invalid answers on the current screen
    options: list[tuple[str, str, str]] = field(default_factory=list)  # key, label, value
    ended: bool = False
    resume: dict[str, Any] | None = None  # the snapshot offered by the resume prompt

    def encode(self) -> bytes:
        """Serialise compactly (short keys, orjson)."""
        return orjson.dumps(
            {
                "i": self.session_id,
                "p": self.msisdn,
                "s": self.state,
                "l": self.lang,
                "d": self.data,
                "h": self.history,
                "g": self.page,
                "n": self.pages,
                "t": self.text,
                "r": self.reply,
                "x": self.tries,
                "o": self.options,
                "e": self.ended,
                "m": self.resume,
            }
        )

    @classmethod
    def decode(cls, blob: bytes) -> Session:
        """Rebuild a session from encode()'s output."""
        raw = orjson.loads(blob)
        reply = raw.get("r")
        return cls(
            session_id=raw["i"],
            msisdn=raw["p"],
            state=raw["s"],
            lang=raw["l"],
            data=raw.get("d") or {},
            history=raw.get("h") or [],
            page=raw.get("g", 0),
            pages=raw.get("n", 1),
            text=raw.get("t", ""),
            reply=(bool(reply[0]), str(reply[1])) if reply else None,
            tries=raw.get("x", 0),
            options=[(str(k), str(label), str(v)) for k, label, v in raw.get("o") or ()],
            ended=raw.get("e", False),
            resume=raw.get("m"),
        )

    def snapshot(self) -> dict[str, Any]:
        """Return what a redial may resume: position, answers, history, language."""
        return {
            "i": self.session_id,
            "s": self.state,
            "l": self.lang,
            "d": self.data,
            "h": self.history,
            "o": self.options,
        }
