"""The registered field validators of form screens, and the demo catalogue that names them."""

from __future__ import annotations

import re
from datetime import date

import pytest

from civic import codec
from civic.seed import load_city
from menus.actions.civic import FIELD_LABEL_MAX
from menus.registry import FormField, Option
from menus.validators import FIELD_VALIDATORS, field_check
from text.encoding import cost

TODAY = date(2026, 11, 30)


def _check(validator: str, raw: str, **extra: object) -> str | None:
    field = FormField(key="k", label="L", validator=validator, **extra)  # type: ignore[arg-type]
    check = field_check(field, TODAY)
    assert check is not None
    return check(raw)


@pytest.mark.parametrize(
    ("raw", "saved"),
    [
        ("Neema Kahindo", "Neema Kahindo"),
        ("  Neema   Kahindo ", "Neema Kahindo"),
        ("N'Guessan-Kouadio", "N'Guessan-Kouadio"),
        ("Zoë Mbala", "Zoë Mbala"),
        ("12", None),
        ("A", None),
        ("Neema2", None),
        ("--", None),
        ("x" * 61, None),
    ],
)
def test_person_name(raw: str, saved: str | None) -> None:
    assert _check("person_name", raw) == saved


@pytest.mark.parametrize(
    ("raw", "saved"),
    [
        ("14/02/2019", "14/02/2019"),
        ("14.02.2019", "14/02/2019"),
        ("14-2-2019", "14/02/2019"),
        ("14022019", "14/02/2019"),
        ("30/11/2026", "30/11/2026"),  # today
        ("01/12/2026", None),  # tomorrow: not in the future
        ("31/02/2019", None),
        ("01/01/1899", None),
        ("1/1/19", None),
        ("2019-02-14", None),
    ],
)
def test_past_date(raw: str, saved: str | None) -> None:
    assert _check("past_date", raw) == saved


def test_place_id_number_and_choice() -> None:
    assert _check("place", "Avenue du Lac 12") == "Avenue du Lac 12"
    assert _check("place", "12") is None
    assert _check("id_number", "cd 123 4567", pattern="^CD[0-9]{7}$") == "CD1234567"
    assert _check("id_number", "CD12", pattern="^CD[0-9]{7}$") is None
    choices = (Option("job", "Emploi"), Option("travel", "Voyage"))
    assert _check("choice", "2", choices=choices) == "travel"
    assert _check("choice", "3", choices=choices) is None
    broken = FormField(key="k", label="L", validator="id_number", pattern="([")
    assert field_check(broken, TODAY) is None  # a bad catalogue pattern accepts nothing
    unknown = FormField(key="k", label="L", validator="shoe_size")
    assert field_check(unknown, TODAY) is None


def test_the_demo_catalogue_names_registered_validators_and_fits_the_screen() -> None:
    documents = load_city()["documents"]
    seen = 0
    for document in documents:
        for field in codec.fields_from_json(document.get("fields") or []):
            seen += 1
            assert field.validator in FIELD_VALIDATORS, (document["code"], field.key)
            if field.pattern is not None:
                re.compile(field.pattern)
            assert set(field.labels) == {"fr", "en", "sw"}
            for lang, label in field.labels.items():
                assert len(label) <= FIELD_LABEL_MAX, (document["code"], field.key, lang)
                assert cost(label).encoding == "GSM-7", (document["code"], field.key, lang)
            assert field.validator != "choice" or len(field.choices) >= 2
        for items in (document.get("at_counter") or {}).values():
            assert len(", ".join(items)) <= 90  # menus.yaml placeholder `counter`
    assert seen >= 15
