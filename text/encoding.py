"""GSM 03.38 vs UCS-2: which encoding a text needs and what it costs on a screen or in SMS.

Shared by the USSD renderer (screen budget) and the SMS templates (segments): both are
carried in the GSM 7-bit default alphabet unless one character forces UCS-2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# The 128 characters of the GSM 03.38 default alphabet (one septet each).
GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through the escape septet, so each costs two septets.
GSM7_EXTENSION: Final = frozenset("^{}\\[~]|€\f")
# 0x09 is Ç in the standard but many handsets show ç: legal, yet worth a warning.
GSM7_AMBIGUOUS: Final = frozenset("Ç")

USSD_GSM7_LIMIT: Final = 182  # 160 octets of packed septets
USSD_UCS2_LIMIT: Final = 80  # 160 octets of UTF-16
SMS_GSM7_SINGLE: Final = 160
SMS_GSM7_PART: Final = 153
SMS_UCS2_SINGLE: Final = 70
SMS_UCS2_PART: Final = 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class TextCost:
    """What a text costs: its encoding, its length in that encoding's units, and why."""

    encoding: Encoding
    units: int
    non_gsm: tuple[str, ...]
    ambiguous: tuple[str, ...]

    @property
    def is_gsm7(self) -> bool:
        """Return True when the text travels in the GSM 7-bit alphabet."""
        return self.encoding == "GSM-7"

    @property
    def ussd_limit(self) -> int:
        """Return the screen budget for this encoding."""
        return USSD_GSM7_LIMIT if self.is_gsm7 else USSD_UCS2_LIMIT

    @property
    def fits_ussd(self) -> bool:
        """Return True when the text fits one USSD screen."""
        return self.units <= self.ussd_limit

    @property
    def sms_segments(self) -> int:
        """Return how many SMS segments the text needs (0 for an empty text)."""
        if self.units == 0:
            return 0
        single, part = (
            (SMS_GSM7_SINGLE, SMS_GSM7_PART) if self.is_gsm7 else (SMS_UCS2_SINGLE, SMS_UCS2_PART)
        )
        if self.units <= single:
            return 1
        return -(-self.units // part)


def cost(text: str) -> TextCost:
    """Measure `text`: GSM-7 septets (extensions count two) or UTF-16 code units."""
    septets = 0
    non_gsm: list[str] = []
    for char in text:
        if char in GSM7_BASIC:
            septets += 1
        elif char in GSM7_EXTENSION:
            septets += 2
        elif char not in non_gsm:
            non_gsm.append(char)
    ambiguous = tuple(sorted(GSM7_AMBIGUOUS.intersection(text)))
    if not non_gsm:
        return TextCost("GSM-7", septets, (), ambiguous)
    utf16_units = len(text.encode("utf-16-le")) // 2
    return TextCost("UCS-2", utf16_units, tuple(non_gsm), ambiguous)


def is_gsm7(text: str) -> bool:
    """Return True when every character of `text` is in the GSM 7-bit alphabet."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)
