"""Every city pack (cities/<id>/) lints clean and walks its main journeys; code names no city.

The same test code runs on every pack with only CITY changed: if a journey needed code for one
city, another pack would fail here. Each pack's rehearsal.yaml is the script (what to type,
what the screen must say), with a phone number of the city's country.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
import yaml
from flask import Flask

import runtime
from civic.seed import seed_demo
from gateway.app import create_app
from gateway.config import Settings
from gateway.schema import MIGRATIONS, run_steps
from menus.lint import lint
from menus.loader import load_menus
from menus.model import MenuSpec
from menus.review import to_review
from runtime.packs import CITIES_DIR, DEFAULT_CITY, Pack, all_packs
from sms.check import check
from sms.keywords import Command, Keyword, parse
from sms.service import SmsService
from sms.store import Status
from sms.templates import load as load_templates
from tests.conftest import UssdPhone
from text.encoding import cost
from text.money import MoneyFormat

ROOT = Path(__file__).resolve().parents[1]
PACKS = all_packs()
IDS = [found.id for found in PACKS]
# Product code: every top-level package but the apart ones (tests/test_package_graph.py).
PRODUCT = ("gateway", "menus", "personal_data", "payments", "sms", "sessions", "civic", "runtime")
PRODUCT += ("text",)


def test_there_are_packs_and_the_default_is_one_of_them() -> None:
    assert DEFAULT_CITY in IDS and len(IDS) >= 2
    # The root files a newcomer opens are the default city's.
    assert (ROOT / "menus.yaml").resolve() == CITIES_DIR / DEFAULT_CITY / "menus.yaml"
    assert (ROOT / "sms_templates.yaml").resolve() == CITIES_DIR / DEFAULT_CITY / (
        "sms_templates.yaml"
    )


@pytest.mark.parametrize("found", PACKS, ids=IDS)
def test_each_pack_lints_clean_every_screen_in_budget(found: Pack) -> None:
    # lint renders every screen in every language with worst-case placeholders.
    report = lint(found.menus)
    assert report.ok, "\n".join(report.lines())
    assert load_menus(found.menus).city.id == found.id


@pytest.mark.parametrize("found", PACKS, ids=IDS)
def test_each_pack_sms_templates_check_in_the_menus_languages(found: Pack) -> None:
    book = load_templates(found.sms_templates)
    assert check(book).ok, book.problems
    spec = load_menus(found.menus)
    assert set(spec.languages) <= set(book.languages)
    assert book.languages[0] == spec.default_language


@pytest.mark.parametrize("found", PACKS, ids=IDS)
def test_each_pack_is_served_by_city_alone(found: Pack) -> None:
    settings = Settings.from_env({"CITY": found.id})
    assert Path(settings.menus_path) == found.menus
    assert Path(settings.sms_templates_path) == found.sms_templates
    assert Path(settings.catalogue_path) == found.catalogue
    assert settings.payment_operators == str(found.city().get("payment_operators") or "")


def test_an_explicit_path_wins_over_the_pack() -> None:
    settings = Settings.from_env({"CITY": IDS[-1], "MENUS_PATH": "elsewhere.yaml"})
    assert settings.menus_path == "elsewhere.yaml"
    assert Path(settings.sms_templates_path) == CITIES_DIR / IDS[-1] / "sms_templates.yaml"


def test_an_unknown_city_is_refused_naming_the_packs() -> None:
    with pytest.raises(ValueError, match=r"CITY='atlantis' names no city pack .*goma"):
        Settings.from_env({"CITY": "atlantis"})


def _product_files() -> Iterator[Path]:
    for package in PRODUCT:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_product_code_names_no_city() -> None:
    # Ids and names of every pack, as words: the engine and the domain are city-blind.
    words = set()
    for found in PACKS:
        city = found.city()
        words |= {found.id, str(city["name"])}
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(words))) + r")\b", re.I)
    allowed = (ROOT / "runtime" / "packs.py", 'DEFAULT_CITY: Final = "')
    found_lines = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _product_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and not (path == allowed[0] and line.startswith(allowed[1]))
    ]
    assert found_lines == []


@pytest.mark.parametrize(
    ("fmt", "amount", "text"),
    [
        (MoneyFormat("CDF"), 12500, "12 500 CDF"),
        (MoneyFormat("FCFA"), 1250, "1 250 FCFA"),
        (MoneyFormat("€", decimals=2), 1250, "12,50 €"),
        (MoneyFormat("DH", decimals=2), 12500, "125,00 DH"),
        (MoneyFormat("€", decimals=2), 5, "0,05 €"),
    ],
)
def test_money_is_written_as_each_city_writes_it(fmt: MoneyFormat, amount: int, text: str) -> None:
    assert fmt.amount(amount) == text


def test_review_lists_the_texts_of_a_language_marked_for_a_native_speaker(tmp_path: Path) -> None:
    menus = tmp_path / "menus.yaml"
    document = yaml.safe_load((CITIES_DIR / DEFAULT_CITY / "menus.yaml").read_text("utf-8"))
    document["review"] = {"en": "native speaker"}
    menus.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    lines = list(to_review(menus))
    assert f"{menus}:screens.main.text: en: review: native speaker" in lines
    document.pop("review")
    menus.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    assert list(to_review(menus)) == []


# --- the main journeys of every pack, in-process, CITY the only difference ----------------


def _rehearsal(found: Pack) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((found.root / "rehearsal.yaml").read_text("utf-8"))
    return data


@pytest.fixture
def pack_app(request: pytest.FixtureRequest, redis_url: str, tmp_path: Path) -> Iterator[Flask]:
    found: Pack = request.param
    url = f"sqlite:///{tmp_path / 'guichet.db'}"
    # A rehearsal types more hops a minute than a person (RATE_USSD_HOPS): off here.
    overrides = {"redis_url": redis_url, "database_url": url, "city": found.id}
    application = create_app({**overrides, "rate_ussd_hops": "off"})
    run_steps(MIGRATIONS, url, io.StringIO())
    seed_demo(url, path=found.catalogue)
    application.testing = True
    yield application
    runtime.uninstall()


@pytest.mark.parametrize("pack_app", PACKS, ids=IDS, indirect=True)
def test_each_pack_walks_its_main_journeys(pack_app: Flask) -> None:
    spec = runtime.current().get(MenuSpec)
    found = next(p for p in PACKS if p.id == spec.city.id)
    rehearsal = _rehearsal(found)
    phone = str(rehearsal["phone"])
    # A number of the city's country, as the aggregator sends it.
    assert phonenumbers.region_code_for_number(phonenumbers.parse(phone)) == spec.city.country
    journeys: dict[str, list[dict[str, Any]]] = rehearsal["journeys"]
    assert {"document", "track"} <= set(journeys)
    assert {"pay", "counter"} & set(journeys)
    ussd = UssdPhone(pack_app.test_client(), phone=phone, service_code=spec.service_code)
    for name, steps in journeys.items():
        screen = ussd.dial()
        for number, step in enumerate(steps):
            if number or "type" in step:
                screen = ussd.type(*str(step["type"]).split("*"))
            where = f"{found.id} {name} step {number} ({ussd.text!r}):\n{screen.body}"
            assert screen.status == 200, where
            assert str(step["expect"]) in screen.body, where
            assert cost(screen.body).fits_ussd, where
        assert screen.end == bool(steps[-1].get("end", False)), where


def test_each_city_keeps_its_demo_data_in_its_own_database() -> None:
    assert Settings.from_env({}).database_url == "sqlite:///var/guichet.db"
    others = [found.id for found in PACKS if found.id != DEFAULT_CITY]
    assert Settings.from_env({"CITY": others[0]}).database_url.endswith(f"guichet-{others[0]}.db")
    explicit = Settings.from_env({"CITY": others[0], "DATABASE_URL": "sqlite:///x.db"})
    assert explicit.database_url == "sqlite:///x.db"


def test_menus_that_pay_are_refused_without_operators(redis_url: str, tmp_path: Path) -> None:
    # A city without mobile money (payment_operators "") serving menus with payment screens.
    counter_only = next(p for p in PACKS if not p.city().get("payment_operators"))
    overrides = {
        "redis_url": redis_url,
        "database_url": f"sqlite:///{tmp_path / 'g.db'}",
        "city": counter_only.id,
        "menus_path": str(CITIES_DIR / DEFAULT_CITY / "menus.yaml"),
    }
    with pytest.raises(ValueError, match=r"PAYMENT_OPERATORS is empty .* pays on screens"):
        create_app(overrides)
    runtime.uninstall()


@pytest.mark.parametrize("found", PACKS, ids=IDS)
def test_each_pack_names_a_demo_citizen_of_its_country(found: Pack) -> None:
    phone = found.demo_phone()
    assert phone is not None
    parsed = phonenumbers.parse(phone)
    assert phonenumbers.is_valid_number(parsed)
    assert phonenumbers.region_code_for_number(parsed) == found.city()["country"]
    citizens = yaml.safe_load(found.catalogue.read_text("utf-8"))["citizens"]
    assert phone in {c["phone"] for c in citizens}


@pytest.mark.parametrize("found", PACKS, ids=IDS)
def test_each_pack_reads_sms_commands_in_each_of_its_languages(found: Pack) -> None:
    vocabulary = load_templates(found.sms_templates).keywords
    spec = load_menus(found.menus)
    for keyword in (Keyword.STATUS, Keyword.STOP, Keyword.LANGUAGE):
        hints = {hint for kw, hint in vocabulary.synonyms.values() if kw is keyword}
        assert hints & {None, *spec.languages}, (keyword, hints)
    status_words = {w: h for w, (kw, h) in vocabulary.synonyms.items() if kw is Keyword.STATUS}
    for lang in spec.languages:
        words = [w for w, h in status_words.items() if h in (lang, None)]
        assert words, f"{found.id}: no STATUS word in {lang}"
        assert parse(f"{words[0].lower()} 123-4567", vocabulary) == Command(
            Keyword.STATUS, "1234567", status_words[words[0]]
        )
    # A word of no language of the pack is not understood there.
    foreign = {h for _kw, h in vocabulary.synonyms.values()} - {None, *spec.languages}
    assert foreign == set()


def test_a_malformed_keywords_block_is_a_templates_problem(tmp_path: Path) -> None:
    text = (CITIES_DIR / DEFAULT_CITY / "sms_templates.yaml").read_text("utf-8")
    broken = tmp_path / "sms_templates.yaml"
    broken.write_text(text.replace("  move: {fr: [DEPLACER], en: [MOVE], sw: [HAMISHA]}\n", ""))
    assert "keywords: no word for move" in load_templates(broken).problems
    assert not check(load_templates(broken)).ok


@pytest.mark.parametrize(
    "pack_app", [p for p in PACKS if len(p.city().get("sms_countries") or ()) > 1], indirect=True
)
def test_sms_go_to_the_pack_countries_only(pack_app: Flask) -> None:
    # Mamoudzou: a Mayotte, a La Réunion and a France mobile, never a number of another country.
    sms = runtime.current().get(SmsService)
    spec = runtime.current().get(MenuSpec)
    allowed = [
        phonenumbers.format_number(
            phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE),
            phonenumbers.PhoneNumberFormat.E164,
        )
        for region in spec.city.sms_countries
    ]
    params = {"short_code": spec.service_code}
    for number, phone in enumerate([*allowed, "+243810000001"]):
        sent = sms.send(phone, "reply_help", params, idempotency_key=f"countries-{number}")
        refused = phone == "+243810000001"
        assert (sent.status is Status.REFUSED) == refused, (phone, sent)
