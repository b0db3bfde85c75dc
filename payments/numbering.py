"""The caller's operator from their number: the city's prefix table, then phonenumbers' carriers.

The payment screen lists that operator first, so most callers answer `1` (payments/numbering.yaml
holds the tables: data, not code).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import phonenumbers
import yaml
from phonenumbers import carrier

NUMBERING: Final = Path(__file__).with_name("numbering.yaml")


class NumberingError(ValueError):
    """The numbering file is malformed."""


@dataclass(frozen=True, slots=True)
class NumberingPlan:
    """Network prefixes (national number) and carrier names of one country, to operator keys."""

    country: str = ""
    prefixes: Mapping[str, str] = field(default_factory=dict)
    carriers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, country: str, path: Path = NUMBERING) -> NumberingPlan:
        """Read the plan of `country` (ISO 3166 region); an unknown country has no prefixes."""
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != 1:
            raise NumberingError(f"{path}: expected a version 1 mapping")
        countries = data.get("countries") or {}
        table = (countries.get(country.upper()) or {}).get("prefixes") or {}
        carriers = data.get("carriers") or {}
        if not isinstance(table, dict) or not isinstance(carriers, dict):
            raise NumberingError(f"{path}: prefixes and carriers must be mappings")
        return cls(
            country=country.upper(),
            prefixes={str(k): str(v) for k, v in table.items()},
            carriers={str(k): str(v) for k, v in carriers.items()},
        )

    def operator_of(self, phone: str) -> str | None:
        """Return the operator key of an E.164 `phone`, None when neither source knows it."""
        try:
            number = phonenumbers.parse(phone, None)
        except phonenumbers.NumberParseException:
            return None
        national = phonenumbers.national_significant_number(number)
        region = phonenumbers.region_code_for_number(number)
        # The city's own table wins (it is what the city checked); longest prefix first.
        if region == self.country:
            for length in range(len(national), 0, -1):
                found = self.prefixes.get(national[:length])
                if found is not None:
                    return found
        return self.carriers.get(carrier.name_for_number(number, "en"))

    def order(self, operators: Iterable[str], phone: str) -> list[str]:
        """Return `operators` with the caller's own first, the others in configured order."""
        ordered = list(operators)
        own = self.operator_of(phone)
        if own in ordered:
            ordered.remove(own)
            ordered.insert(0, own)
        return ordered
