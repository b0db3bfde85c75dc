"""Grammar checks of texts with placeholders: no article glued to a name whose first letter
decides the article's form.

"a {operator}" reads "a Airtel Money"; French "de {operator}" reads "de Orange Money" (it should
be "d'Orange"); the value is not known when the text is written, so a text must be phrased so
that no such article stands right before a name ("a payment prompt from {operator}"). Pure:
used by the menus linter and the SMS templates check.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import Final

# Words whose form depends on the next word's first sound, per language. Swahili has no
# articles; its concords agree with the noun before, not with the name after.
ELIDED_BEFORE_VOWEL: Final[dict[str, tuple[str, ...]]] = {
    "en": ("a", "an"),
    "fr": ("le", "la", "de", "que", "ce", "du", "je", "me", "te", "se", "ne"),
}


def glued_articles(lang: str, text: str, nouns: Collection[str]) -> Iterator[str]:
    """Yield each `article {name}` of `text` where `name` is one of `nouns`."""
    words = ELIDED_BEFORE_VOWEL.get(lang)
    if not words or not nouns:
        return
    names = "|".join(re.escape(n) for n in sorted(nouns))
    pattern = re.compile(rf"\b({'|'.join(words)})\s+\{{({names})\}}", re.IGNORECASE)
    for match in pattern.finditer(text):
        yield match.group(0)
