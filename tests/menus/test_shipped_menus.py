"""The shipped menus.yaml: it loads, lints clean, and its transitions are the ones written."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

import runtime
from menus.hop import HopHandler
from menus.lint import lint
from menus.loader import load_menus, read_document
from menus.machine import PICK, RESOLVE, SELECT, SUBMIT, HopModel, MenuMachine
from menus.model import MenuSpec
from sessions.session import Session
from sessions.store import SessionStore, session_key
from tests.menus.conftest import Phone, RecordingEnqueuer

SHIPPED = Path(__file__).resolve().parents[2] / "menus.yaml"


@pytest.fixture(scope="module")
def shipped() -> MenuSpec:
    return load_menus(SHIPPED)


@pytest.fixture(scope="module")
def machine(shipped: MenuSpec) -> MenuMachine:
    return MenuMachine(shipped)


def test_shipped_menus_lint_clean() -> None:
    report = lint(SHIPPED)
    assert report.ok, report.lines()


def test_shipped_menus_city_and_languages(shipped: MenuSpec) -> None:
    assert shipped.city.id == "goma" and shipped.city.country == "CD"
    assert shipped.service_code == "*384*12#"
    assert shipped.languages[:1] == ("fr",) and set(shipped.languages) >= {"fr", "en", "sw"}
    assert SHIPPED.read_text(encoding="utf-8").rstrip().endswith("# --- end of screens ---")


def transitions_table(spec: MenuSpec) -> list[tuple[str, str, str, str | None]]:
    """Return (screen, event, input or outcome, expected destination) for the whole file."""
    rows: list[tuple[str, str, str, str | None]] = []
    for screen in spec.screens.values():
        if screen.kind == "menu" and screen.options:
            rows += [(screen.id, SELECT, o.key, o.next) for o in screen.options]
            rows.append((screen.id, SELECT, "777", None))
        elif screen.kind == "action":
            rows += [(screen.id, RESOLVE, outcome, dest) for outcome, dest in screen.on.items()]
            rows.append((screen.id, RESOLVE, "no_such_outcome", None))
    return rows


def test_every_written_transition(shipped: MenuSpec, machine: MenuMachine) -> None:
    rows = transitions_table(shipped)
    assert ("main", SELECT, "9", "language") in rows
    assert ("language_set", RESOLVE, "ok", "main") in rows
    for screen, event, value, dest in rows:
        model = HopModel(screen, outcome=value) if event == RESOLVE else HopModel(screen, key=value)
        assert machine.fire(event, model)
        assert model.state == (dest or screen), (screen, event, value)
        assert model.invalid == (dest is None), (screen, event, value)


def test_machine_has_an_event_for_every_waiting_screen(
    shipped: MenuSpec, machine: MenuMachine
) -> None:
    for screen in shipped.screens.values():
        if screen.kind == "input":
            assert machine.has(SUBMIT, screen.id)
        elif screen.kind == "menu":
            assert machine.has(SELECT if screen.options else PICK, screen.id)


def test_yaml_cannot_name_code(machine: MenuMachine) -> None:
    with pytest.raises(TypeError):
        machine.machine.resolve_callable("os.system", None)


# (inputs typed after the dial, language of the phone, expected first line, END?)
JOURNEYS: list[tuple[list[str], str, str, bool]] = [
    ([], "fr", "Guichet Goma", False),
    (["9"], "fr", "Choix de la langue", False),
    (["9", "2"], "en", "Guichet Goma", False),
    (["9", "3", "9"], "sw", "Chagua lugha yako", False),
    (["8"], "fr", "Guichet Goma: payez vos taxes", True),
    (["9", "2", "8"], "en", "Guichet Goma: pay your taxes", True),
    (["9", "3", "8"], "sw", "Guichet Goma: lipa kodi zako", True),
    (["9", "0"], "fr", "Guichet Goma", False),
    (["77"], "fr", "Choix invalide.", False),
]


@pytest.mark.parametrize("journey", JOURNEYS, ids=["*".join(j[0]) or "dial" for j in JOURNEYS])
def test_shipped_journeys(
    shipped: MenuSpec, redis_client: redis.Redis, journey: tuple[list[str], str, str, bool]
) -> None:
    inputs, lang, first_line, end = journey
    store = SessionStore(redis_client, ttl_seconds=180, resume_window_seconds=300)
    handler = HopHandler(shipped, store, RecordingEnqueuer(redis_client), runtime.Container())
    phone = Phone(handler)
    reply = phone.dial()
    if inputs:
        reply = phone.type(*inputs)
    assert reply.body.split("\n")[0].startswith(first_line)
    assert reply.end == end
    session_blob = redis_client.get(session_key("s1"))
    assert session_blob is not None
    assert Session.decode(session_blob).lang == lang


def test_read_document_keeps_on_as_a_key() -> None:
    document = read_document(SHIPPED)
    assert "on" in document["screens"]["language_set"]
