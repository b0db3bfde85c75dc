"""Input validators, compiled once at load: regex, length, range, phone, one_of."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers

from menus.model import Text, Validator


@dataclass(frozen=True, slots=True)
class Regex:
    """Accept an input the pattern matches in full."""

    pattern: re.Pattern[str]
    error: Text | None = None

    def check(self, raw: str) -> str | None:
        """Return `raw` when the whole of it matches."""
        return raw if self.pattern.fullmatch(raw) else None


@dataclass(frozen=True, slots=True)
class Length:
    """Accept an input of `min`..`max` characters."""

    min: int = 0
    max: int | None = None
    error: Text | None = None

    def check(self, raw: str) -> str | None:
        """Return `raw` when its length is within bounds."""
        if len(raw) < self.min or (self.max is not None and len(raw) > self.max):
            return None
        return raw


@dataclass(frozen=True, slots=True)
class Range:
    """Accept a number between `min` and `max` (inclusive); saves it normalised."""

    min: Decimal | None = None
    max: Decimal | None = None
    error: Text | None = None

    def check(self, raw: str) -> str | None:
        """Return the number as typed without leading zeros, when within bounds."""
        # Keypads type digits and sometimes a decimal separator; nothing else is a number.
        if not raw or len(raw) > 18 or not raw.replace(".", "", 1).replace(",", "", 1).isdigit():
            return None
        try:
            number = Decimal(raw.replace(",", "."))
        except InvalidOperation:
            return None
        if (self.min is not None and number < self.min) or (
            self.max is not None and number > self.max
        ):
            return None
        return format(number.normalize(), "f") if number == number.to_integral() else str(number)


@dataclass(frozen=True, slots=True)
class Phone:
    """Accept a valid phone number, national or international; saves it in E.164."""

    region: str
    error: Text | None = None

    def check(self, raw: str) -> str | None:
        """Return the E.164 form of `raw`, or None when it is not a valid number."""
        if len(raw) > 20:
            return None
        try:
            number = phonenumbers.parse(raw, self.region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True, slots=True)
class OneOf:
    """Accept one of a few words, ignoring case; saves the spelling from menus.yaml."""

    values: Mapping[str, str]  # casefolded -> canonical
    error: Text | None = None

    def check(self, raw: str) -> str | None:
        """Return the canonical value `raw` names."""
        return self.values.get(raw.casefold())


def compile_validator(
    spec: Mapping[str, Any], *, region: str, text: Callable[[Any], Text]
) -> Validator:
    """Build the validator a (schema-checked) menus.yaml entry describes."""
    error = text(spec["error"]) if "error" in spec else None
    kind = spec["type"]
    if kind == "regex":
        return Regex(re.compile(spec["pattern"]), error)
    if kind == "length":
        return Length(int(spec.get("min", 0)), spec.get("max"), error)
    if kind == "range":
        low, high = spec.get("min"), spec.get("max")
        return Range(
            None if low is None else Decimal(str(low)),
            None if high is None else Decimal(str(high)),
            error,
        )
    if kind == "phone":
        return Phone(region, error)
    if kind == "one_of":
        return OneOf({value.casefold(): value for value in spec["values"]}, error)
    raise ValueError(f"unknown validator type {kind!r}")  # the schema makes this unreachable
