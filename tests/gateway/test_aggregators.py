"""Every USSD adapter carries the same journeys: pay a tax, request a document, track it.

One parametrized walk per protocol (tests/gateway/aggregator_phones.py speaks each one, from
its documents) through the in-process app: the engine and the back office are the real ones,
only the aggregator is played by the test. Retried hops must change nothing in each.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import runtime
from civic.ports import Backend, RequestStatus
from civic.seed import seed_demo
from gateway.aggregators import ADAPTERS
from gateway.app import create_app
from gateway.schema import MIGRATIONS, run_steps
from tests.gateway.aggregator_phones import (
    PHONES,
    AfricasTalkingPhone,
    GenericPhone,
    HubtelPhone,
    ProtocolPhone,
)

BIRTH_ANSWERS = ("Neema Kahindo", "14/02/2019", "Goma", "97", "Furaha Kahindo")


@pytest.fixture(params=PHONES, ids=[phone.name for phone in PHONES])
def phone_kind(request: pytest.FixtureRequest) -> type[ProtocolPhone]:
    kind: type[ProtocolPhone] = request.param
    return kind


@pytest.fixture(scope="module")
def seeded_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a database file with every package's tables and the demo city, built once."""
    path = tmp_path_factory.mktemp("city") / "guichet.db"
    run_steps(MIGRATIONS, f"sqlite:///{path}", io.StringIO())
    seed_demo(f"sqlite:///{path}")
    return path


@pytest.fixture
def city_app(
    app_config: dict[str, Any], seeded_city: Path, phone_kind: type[ProtocolPhone], tmp_path: Path
) -> Iterator[Flask]:
    """Yield the app on a copy of the seeded demo city, set for the phone's aggregator."""
    database = tmp_path / "city.db"
    shutil.copyfile(seeded_city, database)
    overrides = getattr(phone_kind, "SETTINGS", {})
    config = {**app_config, "database_url": f"sqlite:///{database}"}
    application = create_app({**config, **overrides})
    application.testing = True
    yield application
    runtime.uninstall()


@pytest.fixture
def phone(city_app: Flask, phone_kind: type[ProtocolPhone]) -> ProtocolPhone:
    return phone_kind(city_app.test_client())


def _option(body: str, label: str) -> str:
    for line in body.splitlines():
        key, _, rest = line.partition(". ")
        if label in rest:
            return key
    raise AssertionError(f"no option {label!r} in:\n{body}")


def test_pay_a_tax_request_a_document_and_track_it(phone: ProtocolPhone) -> None:
    home = phone.dial()
    assert not home.end and "Payer taxe ou frais" in home.body
    # Pay a tax, up to the payment prompt; the aggregator retries the last hop.
    taxes = phone.type("1")
    phone.type(_option(taxes.body, "Taxe de voirie"))
    shown = phone.type("100001")
    assert "Montant: 26 500 CDF" in shown.body
    phone.type("1")
    started = phone.type("1")
    assert started.end and "100001" in started.body
    assert phone.retry() == started  # the same END, no second payment started
    # Request a birth certificate with its dossier, up to the fee's payment prompt.
    phone.dial()
    docs = phone.type("2")
    phone.type(_option(docs.body, "naissance"), "1")
    summary = phone.type(*BIRTH_ANSWERS)
    assert "Vérifiez: Neema Kahindo, 14/02/2019, Goma, -, Furaha Kahindo" in summary.body
    operators = phone.type("1", "1")
    filed = phone.type(_option(operators.body, "M-Pesa"))
    found = re.search(r"Demande (\d{8}) enregistrée", filed.body)
    assert filed.end and found is not None, filed.body
    assert phone.retry() == filed  # the same reference: no second request filed
    backend: Backend = runtime.current().get(Backend)  # type: ignore[type-abstract]
    request = backend.get_request(found.group(1))
    assert request is not None and request.status is RequestStatus.AWAITING_PAYMENT
    assert request.owner_phone == "+243810000001"
    # Track it by its reference.
    phone.dial()
    phone.type("3", "1")
    tracked = phone.type(found.group(1))
    assert not tracked.end and "Extrait d'acte de naissance" in tracked.body
    assert "5 000 CDF à payer" in tracked.body


def test_a_retried_first_hop_shows_the_same_screen_and_the_session_goes_on(
    phone: ProtocolPhone,
) -> None:
    home = phone.dial()
    assert phone.retry() == home
    taxes = phone.type("1")
    assert not taxes.end and "Taxe de voirie" in taxes.body


# The protocols whose every hop tells a retry: AT's cumulative text, Hubtel's Sequence, a
# CON/END aggregator's cumulative input (Nalo, Arkesel and latest-only input cannot, README).
@pytest.mark.parametrize(
    "phone_kind",
    [AfricasTalkingPhone, HubtelPhone, GenericPhone],
    ids=["africastalking", "hubtel", "generic"],
)
def test_a_retried_hop_in_the_middle_changes_nothing_where_the_protocol_tells_it(
    phone: ProtocolPhone,
) -> None:
    phone.dial()
    taxes = phone.type("1")
    assert phone.retry() == taxes  # not "1" chosen again on the taxes menu
    picked = phone.type(_option(taxes.body, "Taxe de voirie"))
    assert not picked.end and "rence" in picked.body  # the tax reference is asked


def test_the_readme_table_and_the_guide_name_every_adapter() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Aggregators", 1)[1].split("\n## ", 1)[0]
    for adapter in ADAPTERS:
        assert f"/ussd/{adapter.name}`" in section, adapter.name
        assert adapter.title.split(" (")[0] in section, adapter.title
    assert "docs/aggregators.md" in section and (root / "docs" / "aggregators.md").is_file()
