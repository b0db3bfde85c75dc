"""Which numbers we text: valid E.164 mobiles in the allowed countries only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumberType

_MOBILE: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


class PhonePolicy:
    """Refuse numbers outside the allowed regions, invalid numbers and non-mobiles."""

    def __init__(self, allowed_regions: Iterable[str]) -> None:
        self.allowed_regions = frozenset(region.strip().upper() for region in allowed_regions)

    def refusal(self, phone: str) -> str | None:
        """Return why `phone` may not be texted, or None when it may."""
        try:
            number = phonenumbers.parse(phone, None)
        except phonenumbers.NumberParseException:
            return "invalid_number"
        if not phonenumbers.is_valid_number(number):
            return "invalid_number"
        if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != phone:
            return "invalid_number"
        if phonenumbers.region_code_for_number(number) not in self.allowed_regions:
            return "country_not_allowed"
        if phonenumbers.number_type(number) not in _MOBILE:
            return "not_mobile"
        return None
