"""The payment screen lists the caller's own operator first (payments/numbering.yaml)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import phonenumbers
import pytest
from flask import Flask
from phonenumbers import carrier

import runtime
from civic.seed import seed_demo
from gateway.app import create_app
from payments.numbering import NUMBERING, NumberingPlan
from tests.conftest import UssdPhone

REF = "100001"  # demo city: road tax, unpaid


@pytest.mark.parametrize(
    ("phone", "operator"),
    [
        ("+243810000001", "mpesa"),  # Vodacom
        ("+243829999999", "mpesa"),
        ("+243970000001", "airtel"),
        ("+243990000001", "airtel"),
        ("+243840000001", "orange"),
        ("+243890000001", "orange"),
        ("+243900000001", None),  # Africell: no mobile money we offer
        ("+254708374149", None),  # a Kenyan Safaricom number: not the city's country
        ("not a phone", None),
    ],
)
def test_goma_numbers_map_to_their_operator(phone: str, operator: str | None) -> None:
    assert NumberingPlan.load("CD").operator_of(phone) == operator


@pytest.mark.parametrize(
    ("phone", "operator"),
    [
        ("+22890000001", "tmoney"),
        ("+22870000001", "tmoney"),
        ("+22896000001", "flooz"),
        ("+22879000001", "flooz"),
    ],
)
def test_lome_numbers_map_to_their_operator(phone: str, operator: str) -> None:
    assert NumberingPlan.load("TG").operator_of(phone) == operator


@pytest.mark.parametrize("country", ["CD", "TG"])
def test_the_city_tables_agree_with_phonenumbers_carrier_data(country: str) -> None:
    plan = NumberingPlan.load(country)
    assert plan.prefixes  # the table exists: the loop below checks something
    code = phonenumbers.country_code_for_region(country)
    for prefix, operator in plan.prefixes.items():
        number = phonenumbers.parse(f"+{code}{prefix}{'1' * (9 - len(prefix) - (country == 'TG'))}")
        assert phonenumbers.is_valid_number(number), prefix
        assert plan.carriers.get(carrier.name_for_number(number, "en")) == operator, prefix


def test_carrier_data_is_the_fallback_when_the_city_has_no_table() -> None:
    plan = NumberingPlan.load("CD")
    bare = NumberingPlan(country="CD", prefixes={}, carriers=plan.carriers)
    assert bare.operator_of("+243970000001") == "airtel"
    assert bare.operator_of("+243830000001") == "mpesa"
    assert NumberingPlan.load("ZZ").prefixes == {}
    assert NUMBERING.is_file()


def test_the_callers_operator_moves_first_and_the_rest_keep_their_order() -> None:
    plan = NumberingPlan.load("CD")
    configured = ["mpesa", "airtel", "orange"]
    assert plan.order(configured, "+243840000001") == ["orange", "mpesa", "airtel"]
    assert plan.order(configured, "+243970000001") == ["airtel", "mpesa", "orange"]
    assert plan.order(configured, "+243810000001") == configured
    assert plan.order(configured, "+243900000001") == configured  # Africell: unchanged
    assert plan.order(["mpesa"], "+243970000001") == ["mpesa"]  # Airtel not offered


@pytest.fixture
def seeded_app(app_config: dict[str, Any]) -> Iterator[Flask]:
    seed_demo(app_config["database_url"])
    # The embedded default's three operators, in their configured order.
    operators = "mpesa:sandbox,airtel:sandbox,orange:sandbox"
    app = create_app({**app_config, "payment_operators": operators})
    app.testing = True
    yield app
    runtime.uninstall()


@pytest.mark.parametrize(
    ("phone", "first", "second"),
    [
        ("+243970000001", "1. Airtel Money", "2. M-Pesa"),
        ("+243840000001", "1. Orange Money", "2. M-Pesa"),
        ("+243810000001", "1. M-Pesa", "2. Airtel Money"),
    ],
)
def test_the_pay_screen_offers_the_callers_operator_as_1(
    seeded_app: Flask, phone: str, first: str, second: str
) -> None:
    ussd = UssdPhone(seeded_app.test_client())
    ussd.dial(phone)
    ussd.type("1", "1", REF)  # pay a tax -> road tax -> reference
    screen = ussd.type("1")  # Pay: the operator screen
    assert not screen.end
    lines = screen.body.splitlines()
    assert first in lines and second in lines
    assert lines.index(first) < lines.index(second)
    chosen = ussd.type("1")
    assert chosen.end and first.split(". ", 1)[1] in chosen.body  # the prompt names it
