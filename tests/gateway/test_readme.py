"""The README documents every setting, with its default, and keeps its two set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.cli.settings_table import BEGIN, END, render_table, replace_table
from gateway.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_with_its_default() -> None:
    text = README.read_text(encoding="utf-8")
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `([A-Z0-9_]+)` \| (.*?) \|", text, flags=re.MULTILINE)
    }
    for env, default, _doc in Settings.documented():
        assert env in rows, f"{env} missing: run python -m gateway settings-table --write README.md"
        assert rows[env] == (f"`{default}`" if default else "(empty)"), env


def test_the_readme_table_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    assert replace_table(text) == text, "run python -m gateway settings-table --write README.md"


def test_exactly_two_set_up_commands() -> None:
    text = README.read_text(encoding="utf-8")
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    block = setup.split("```sh", 1)[1].split("```", 1)[0]
    assert block.split() == ["make", "run", "make", "test"]


def test_the_table_is_regenerated_between_its_markers() -> None:
    stale = f"intro\n{BEGIN}\n| old |\n{END}\noutro\n"
    fresh = replace_table(stale)
    assert fresh == f"intro\n{BEGIN}\n{render_table()}\n{END}\noutro\n"
    assert replace_table(fresh) == fresh
