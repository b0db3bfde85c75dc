"""Input validators compiled once at load (regex, length, range, phone, one_of) and the
registered field validators of form screens (person_name, past_date, place, id_number, choice).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import phonenumbers

from menus.model import Text, Validator
from menus.registry import FormField


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


# --- field validators: the ones a catalogue's dossier fields may name ----------------------
# A form screen (menus/model.py) checks each answer with the validator its field names. The
# catalogue is data from the back office, so it can only name validators registered here.

FieldCheck = Callable[[str], str | None]
FieldValidatorFactory = Callable[[FormField, date], FieldCheck]
FIELD_VALIDATORS: dict[str, FieldValidatorFactory] = {}

_NAME_PART = r"[^\W\d_]+"
_PERSON_NAME = re.compile(rf"{_NAME_PART}(?:[ '.-]+{_NAME_PART})*\.?")
_PLACE = re.compile(r"[^\W_]+(?:[ ',./-]+[^\W_]+)*\.?")
_DATE = re.compile(r"(\d{1,2})[/.\- ](\d{1,2})[/.\- ](\d{4})|(\d{2})(\d{2})(\d{4})")
MIN_YEAR = 1900
MAX_FIELD_LENGTH = 60  # fits a dossier column and one line of the summary screen


def field_validator(name: str) -> Callable[[FieldValidatorFactory], FieldValidatorFactory]:
    """Register a field validator factory under `name`."""

    def decorate(factory: FieldValidatorFactory) -> FieldValidatorFactory:
        FIELD_VALIDATORS[name] = factory
        return factory

    return decorate


def _squeeze(raw: str) -> str:
    return " ".join(raw.split())


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


@field_validator("person_name")
def _person_name(_field: FormField, _today: date) -> FieldCheck:
    """Accept a person's name: letters, spaces, hyphens, apostrophes; 2 to 60 characters."""

    def check(raw: str) -> str | None:
        text = _squeeze(raw)
        if not 2 <= len(text) <= MAX_FIELD_LENGTH or _letters(text) < 2:
            return None
        return text if _PERSON_NAME.fullmatch(text) else None

    return check


@field_validator("place")
def _place(_field: FormField, _today: date) -> FieldCheck:
    """Accept a place: letters (digits allowed for a street number); 2 to 60 characters."""

    def check(raw: str) -> str | None:
        text = _squeeze(raw)
        if not 2 <= len(text) <= MAX_FIELD_LENGTH or _letters(text) < 2:
            return None
        return text if _PLACE.fullmatch(text) else None

    return check


@field_validator("past_date")
def _past_date(_field: FormField, today: date) -> FieldCheck:
    """Accept dd/mm/yyyy (or . - space as separators, or 8 digits), not in the future."""

    def check(raw: str) -> str | None:
        found = _DATE.fullmatch(raw.strip())
        if found is None:
            return None
        groups = [g for g in found.groups() if g is not None]
        day, month, year = (int(g) for g in groups)
        try:
            when = date(year, month, day)
        except ValueError:
            return None
        if when.year < MIN_YEAR or when > today:
            return None
        return when.strftime("%d/%m/%Y")

    return check


@field_validator("id_number")
def _id_number(field: FormField, _today: date) -> FieldCheck:
    """Accept an ID-document number matching the field's pattern (upper case, no spaces)."""
    pattern = re.compile(field.pattern or r"[A-Z0-9-]{4,20}")

    def check(raw: str) -> str | None:
        text = "".join(raw.split()).upper()
        if not text or len(text) > MAX_FIELD_LENGTH:
            return None
        return text if pattern.fullmatch(text) else None

    return check


ACT_REFERENCE_DEFAULT: Final = r"ACT-[0-9]{4}-[0-9]{6}"
_ACT_DIGITS: Final = re.compile(r"(?:ACT)?([0-9]{4})([0-9]{6})")


@field_validator("act_reference")
def _act_reference(field: FormField, today: date) -> FieldCheck:
    """Accept the reference of an existing civil-status act: ACT-YYYY-NNNNNN.

    A keypad types letters slowly, so the 10 digits alone (2024000123) or with spaces or
    dashes are accepted and saved in the canonical form the field's pattern checks; the year
    is between MIN_YEAR and this year (a correction is of an act already registered).
    """
    pattern = re.compile(field.pattern or ACT_REFERENCE_DEFAULT)

    def check(raw: str) -> str | None:
        squeezed = re.sub(r"[\s./_-]", "", raw.upper())
        found = _ACT_DIGITS.fullmatch(squeezed)
        if found is None:
            return None
        year, number = found.groups()
        if not MIN_YEAR <= int(year) <= today.year:
            return None
        text = f"ACT-{year}-{number}"
        return text if pattern.fullmatch(text) else None

    return check


@field_validator("choice")
def _choice(field: FormField, _today: date) -> FieldCheck:
    """Accept the key of one of the field's choices (1..n); save the choice's value."""
    by_key = {str(index): choice.value for index, choice in enumerate(field.choices, start=1)}

    def check(raw: str) -> str | None:
        return by_key.get(raw.strip())

    return check


def field_check(field: FormField, today: date) -> FieldCheck | None:
    """Return the check of `field`'s validator, None when no such validator is registered."""
    factory = FIELD_VALIDATORS.get(field.validator)
    if factory is None:
        return None
    try:
        return factory(field, today)
    except re.error:
        return None  # a catalogue pattern that does not compile accepts nothing
