"""The linter and the loader: one small bad menus file per rule."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from menus.__main__ import main
from menus.lint import lint
from menus.loader import MenuError, load_menus
from tests.menus.conftest import TEST_MENUS, build_registry

Edit = Callable[[dict[str, Any]], None]


# Screens of the test file that are long on purpose (the engine's pagination tests).
LONG = {"long_text": "3", "long_ucs": "4", "big": "10"}


def base() -> dict[str, Any]:
    """Return the test menus without their deliberately long screens: a lint-clean file."""
    document: dict[str, Any] = yaml.safe_load(
        TEST_MENUS.read_text(encoding="utf-8").replace("\n    on:", "\n    'on':")
    )
    for name in [*LONG, "picked_eight"]:
        del document["screens"][name]
    options = document["screens"]["main"]["options"]
    options[:] = [option for option in options if option["key"] not in LONG.values()]
    return document


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "menus.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def problems(tmp_path: Path, edit: Edit) -> list[str]:
    document = copy.deepcopy(base())
    edit(document)
    path = write(tmp_path, document)
    return [line.removeprefix(f"{path}:") for line in lint(path, build_registry()).lines()]


def test_only_the_deliberately_long_screens_are_reported(tmp_path: Path) -> None:
    report = lint(TEST_MENUS, build_registry())
    assert {problem.path for problem in report.problems} == {f"screens.{n}" for n in LONG}
    clean = lint(write(tmp_path, base()), build_registry())
    assert clean.ok, clean.lines()
    assert clean.lines()[0].endswith("ok (22 screens, 3 languages, every screen fits)")


def screen(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda document: document["screens"][name]


RULES: list[tuple[str, Edit, str]] = [
    (
        "schema names screen and field",
        lambda d: d["screens"]["ref"]["validators"][0].update(pattern=3),
        "screens.ref.validators[0].pattern: 3 is not of type 'string'",
    ),
    (
        "unknown field",
        lambda d: d["screens"]["main"].update(colour="red"),
        "screens.main.colour: unknown field",
    ),
    (
        "unknown next target",
        lambda d: d["screens"]["count"].update(next="nowhere"),
        "screens.count.next: unknown screen 'nowhere'",
    ),
    (
        "unknown on target",
        lambda d: d["screens"]["lookup"]["on"].update(found="nowhere"),
        "screens.lookup.on.found: unknown screen 'nowhere'",
    ),
    (
        "unknown action",
        lambda d: d["screens"]["lookup"].update(action="evil.os_system"),
        "screens.lookup.action: unknown action 'evil.os_system' (not in the action registry)",
    ),
    (
        "unknown outcome name",
        lambda d: d["screens"]["lookup"]["on"].update(maybe="found"),
        "screens.lookup.on.maybe: action 'test.lookup' has no outcome 'maybe' "
        "(it has found, not_found)",
    ),
    (
        "unhandled outcome",
        lambda d: d["screens"]["lookup"]["on"].pop("not_found"),
        "screens.lookup.on: outcome 'not_found' of 'test.lookup' not handled",
    ),
    (
        "unreachable screen",
        lambda d: d["screens"]["main"]["options"].pop(),
        "screens.slow: unreachable from 'main'",
    ),
    (
        "missing translation",
        lambda d: d["screens"]["sorry"]["text"].pop("sw"),
        "screens.sorry.text: missing translation: sw",
    ),
    (
        "reserved key",
        lambda d: d["screens"]["found"]["options"][0].update(key="98"),
        "screens.found.options[0].key: '98' is reserved for navigation",
    ),
    (
        "reserved key 0",
        lambda d: d["screens"]["found"]["options"][0].update(key="0"),
        "screens.found.options[0].key: '0' is reserved for navigation",
    ),
    (
        "undeclared placeholder",
        lambda d: d["screens"]["sorry"]["text"].update(en="Sorry {who}"),
        "screens.sorry.text.en: placeholder {who} is not declared",
    ),
    (
        # A city pack picks its languages; each text must then carry every one of them.
        "a language with no texts",
        lambda d: d.update(languages=[*d["languages"], "ln"]),
        "messages.back: missing translation: ln",
    ),
    (
        "required message",
        lambda d: d["messages"].pop("busy"),
        "messages: 'busy' is a required property",
    ),
    (
        "bad regex",
        lambda d: d["screens"]["ref"]["validators"][0].update(pattern="(["),
        "screens.ref.validators[0].pattern: bad regex",
    ),
    (
        "too long in GSM-7",
        lambda d: d["screens"]["sorry"]["text"].update(sw="Samahani sana " * 14),
        "screens.sorry: [sw] 196 characters at worst case, over the 182 of a GSM-7 screen",
    ),
    (
        "placeholder at its declared worst case",
        lambda d: d["placeholders"].update(name={"max_length": 170}),
        "screens.found: [fr] ",
    ),
    (
        "ucs2 placeholder forces the 80 budget",
        lambda d: d["placeholders"].update(name={"max_length": 60, "ucs2": True}),
        "screens.found: [fr] 100 characters at worst case, over the 80 of a UCS-2 screen",
    ),
    (
        "dynamic labels at the registry's option_label_max",
        lambda d: d["screens"]["items"]["text"].update(en="x" * 150),
        "screens.items: [en] ",
    ),
]


@pytest.mark.parametrize(("rule", "edit", "expected"), RULES, ids=[r[0] for r in RULES])
def test_each_rule(tmp_path: Path, rule: str, edit: Edit, expected: str) -> None:
    found = problems(tmp_path, edit)
    assert any(line.startswith(expected) for line in found), found


def test_loader_refuses_with_every_problem_named(tmp_path: Path) -> None:
    document = base()
    document["screens"]["count"]["next"] = "nowhere"
    document["screens"]["lookup"]["action"] = "evil.os_system"
    path = write(tmp_path, document)
    with pytest.raises(MenuError) as raised:
        load_menus(path, build_registry())
    assert str(raised.value).splitlines() == [
        f"{path}:screens.count.next: unknown screen 'nowhere'",
        f"{path}:screens.lookup.action: unknown action 'evil.os_system' "
        "(not in the action registry)",
    ]


def test_yaml_on_key_stays_a_string() -> None:
    # YAML 1.1 would read `on:` as True; the loader must not.
    spec = load_menus(TEST_MENUS, build_registry())
    assert dict(spec.screens["lookup"].on) == {"found": "found", "not_found": "not_found"}


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "menus.yaml"
    path.write_text("version: 1\nscreens: [\n", encoding="utf-8")
    [line] = lint(path).lines()
    assert line.startswith(f"{path}:line ")


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "menus.yaml"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("menus.yaml: ok (")
    document = yaml.safe_load(
        Path("menus.yaml").read_text(encoding="utf-8").replace("\n    on:", "\n    'on':")
    )
    document["screens"]["main"]["options"][0]["next"] = "nowhere"
    document["screens"]["help"]["text"].pop("en")
    path = write(tmp_path, document)
    assert main(["lint", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{path}:screens.main.options[0].next: unknown screen 'nowhere'"]


def test_an_article_glued_to_a_name_is_reported(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["placeholders"]["name"]["noun"] = True
        document["screens"]["found"]["text"]["en"] = "{ref}: pay a {name} now"
        document["screens"]["found"]["text"]["fr"] = "{ref}: demande de {name}"

    found = problems(tmp_path, edit)
    assert any("found.text.en" in p and "'a {name}'" in p for p in found), found
    assert any("found.text.fr" in p and "'de {name}'" in p for p in found), found
    # The same words before a placeholder that is not a name are fine ("de {ref}").
    fine = problems(tmp_path, lambda d: screen("found")(d)["text"].update(fr="Réf de {ref}"))
    assert fine[0].endswith("every screen fits)"), fine


def test_a_paged_placeholder_may_span_pages_but_only_so_many(tmp_path: Path) -> None:
    def paged(length: int) -> Edit:
        def edit(document: dict[str, Any]) -> None:
            document["placeholders"]["name"] = {"max_length": length, "ucs2": True, "paged": True}

        return edit

    assert problems(tmp_path, paged(200))[0].endswith("every screen fits)")
    too_many = problems(tmp_path, paged(500))
    assert any("pages at worst case, more than 10" in p for p in too_many), too_many
    # Without `paged`, the same long value is one screen over budget.
    over = problems(tmp_path, lambda d: d["placeholders"].update(name={"max_length": 200}))
    assert any("screens.found" in p and "over the" in p for p in over), over


def test_a_typed_answer_must_lead_somewhere(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        screen("found")(document)["typed"] = {
            "save_as": "ref",
            "validators": [{"type": "regex", "pattern": "^[0-9]{3}$"}],
            "next": "nowhere",
        }

    found = problems(tmp_path, edit)
    assert any("found.typed.next" in p for p in found), found
