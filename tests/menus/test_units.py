"""Validators, templates and the renderer's pagination on their own."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from menus.model import Template, TemplateError
from menus.render import Nav, Renderer, option_keys
from menus.validators import Length, OneOf, Phone, Range, Regex
from tests.menus.conftest import MenuSpec
from text.encoding import cost


def test_validators() -> None:
    assert Regex(re.compile("[0-9]{3}")).check("123") == "123"
    assert Regex(re.compile("[0-9]{3}")).check("1234") is None  # full match only
    assert Length(2, 4).check("abc") == "abc"
    assert Length(2, 4).check("a") is None and Length(2, 4).check("abcde") is None
    assert Range(Decimal(1), Decimal(200)).check("007") == "7"
    assert Range(Decimal(1), Decimal(200)).check("201") is None
    assert Range(Decimal(1), Decimal(200)).check("1e2") is None
    assert Range(Decimal(0), Decimal(10)).check("2.5") == "2.5"
    assert Phone("CD").check("0810000001") == "+243810000001"
    assert Phone("CD").check("+254712345678") == "+254712345678"
    assert Phone("CD").check("12345") is None
    assert Phone("CD").check("not a number") is None
    assert OneOf({"oui": "Oui"}).check("OUI") == "Oui"
    assert OneOf({"oui": "Oui"}).check("non") is None


def test_templates() -> None:
    template = Template.parse("Ref {ref}: {amount} {currency}")
    assert template.names == {"ref", "amount", "currency"}
    assert template.render({"ref": "A1", "amount": 500}) == "Ref A1: 500 "  # missing: empty
    assert Template.parse("{{literal}}").render({}) == "{literal}"
    with pytest.raises(TemplateError):
        Template.parse("{amount:,}")
    with pytest.raises(TemplateError):
        Template.parse("{0}")


def test_option_keys_skip_navigation() -> None:
    keys = option_keys(100)
    assert keys[:3] == ["1", "2", "3"]
    assert "98" not in keys and "99" not in keys
    assert keys[96:] == ["97", "100", "101", "102"]


@pytest.mark.parametrize("char", ["a", "ê"])
def test_pages_fit_and_keep_every_item(spec: MenuSpec, char: str) -> None:
    renderer = Renderer(spec)
    items = [f"{n}. {char * 25}" for n in range(1, 30)]
    pages = renderer.pages("fr", "Header", items, Nav(back=True, home=True))
    assert len(pages) > 1
    budget = 182 if char == "a" else 80
    for page in pages:
        assert cost(page).units <= budget
    shown = [line for page in pages for line in page.split("\n") if char * 25 in line]
    assert shown == items


def test_huge_word_is_cut(spec: MenuSpec) -> None:
    pages = Renderer(spec).pages("fr", "x" * 500, [], Nav())
    assert "".join(p.replace("\n98. Suite", "").replace("\n99. Précédent", "") for p in pages) == (
        "x" * 500
    )
