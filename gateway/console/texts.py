"""The console's texts, per language, from texts.yaml (texts live in data, never in Python)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

import yaml

TEXTS_PATH: Final = Path(__file__).with_name("texts.yaml")


class TextsError(ValueError):
    """texts.yaml misses a language of a key."""


class Texts:
    """Look up a text by key and language, filling `{name}` placeholders."""

    def __init__(self, languages: tuple[str, ...], texts: Mapping[str, Mapping[str, str]]) -> None:
        self.languages = languages
        self._texts = texts
        missing = [f"{k}.{lang}" for k, v in texts.items() for lang in languages if lang not in v]
        if missing:
            raise TextsError(f"{TEXTS_PATH.name}: missing {', '.join(missing)}")

    @classmethod
    def load(cls, path: Path = TEXTS_PATH) -> Texts:
        """Read texts.yaml."""
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(tuple(raw["languages"]), raw["texts"])

    def keys(self) -> set[str]:
        """Return every key."""
        return set(self._texts)

    def get(self, key: str, lang: str, **params: object) -> str:
        """Return the text of `key` in `lang` (the key itself when unknown: visible, not fatal)."""
        entry = self._texts.get(key)
        if entry is None:
            return key
        text = entry.get(lang) or entry[self.languages[0]]
        return text.format(**params) if params else text

    def best(self, accept_language: str | None) -> str:
        """Return the first of our languages the browser asks for, else the first one."""
        for part in (accept_language or "").split(","):
            code = part.split(";")[0].strip().lower()[:2]
            if code in self.languages:
                return code
        return self.languages[0]
