"""The inventory of personal data (personal_data.yaml): load it, check stores against it, render it.

One file says, for every SQL column and Redis key that holds a phone number, a name or an ID,
what it holds, why, on what legal basis and for how long. README "Personal data" shows it as
two tables (`render_inventory`, `render_retention`); tests run real journeys and fail on a
column or key that holds such data and is not declared (`undeclared_keys`,
`undeclared_columns`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
import yaml

INVENTORY_PATH: Final = Path(__file__).resolve().parents[1] / "personal_data.yaml"
# Column names that say "a person": a new column so named must be declared (the journeys
# catch the others by their content).
PERSONAL_COLUMN: Final = re.compile(
    r"(phone|msisdn|(^|_)name$|id_number|birth|dossier|^body$|^detail$)"
)
_PLACEHOLDER: Final = re.compile(r"\{[a-z_]+\}")
_HASH_TAG: Final = re.compile(r"[{}]")


class InventoryError(ValueError):
    """personal_data.yaml is malformed."""


@dataclass(frozen=True, slots=True)
class RetentionClass:
    """How long one class of data is kept and what happens then."""

    name: str
    keeps: str
    then: str
    how_long: str = ""
    setting: str = ""  # the Settings env var that sets it (days), if any


@dataclass(frozen=True, slots=True)
class Entry:
    """One place personal data is kept."""

    store: str  # sql | redis
    where: str  # table, or Redis key pattern
    holds: str
    purpose: str
    basis: str
    retention: str
    columns: tuple[str, ...] = ()

    def key_regex(self) -> re.Pattern[str]:
        """Return the regex of a Redis key pattern: `{name}` is one segment (no `:`)."""
        parts = _PLACEHOLDER.split(self.where)
        return re.compile("[^:]+".join(re.escape(p) for p in parts))


@dataclass(frozen=True, slots=True)
class Inventory:
    """Everything personal_data.yaml declares."""

    entries: tuple[Entry, ...]
    retention: Mapping[str, RetentionClass]

    def sql_columns(self) -> set[tuple[str, str]]:
        """Return every declared (table, column)."""
        return {(e.where, c) for e in self.entries if e.store == "sql" for c in e.columns}

    def redis_entries(self) -> list[Entry]:
        """Return the Redis entries."""
        return [e for e in self.entries if e.store == "redis"]

    def entry_of_key(self, key: str) -> Entry | None:
        """Return the entry whose pattern matches Redis key `key` (without REDIS_PREFIX and
        Cluster hash-tag braces: `ussd:lang:{+243...}` is `ussd:lang:+243...`)."""
        key = _HASH_TAG.sub("", key)
        for entry in self.redis_entries():
            if entry.key_regex().fullmatch(key):
                return entry
        return None


def load_inventory(path: Path = INVENTORY_PATH) -> Inventory:
    """Read and check personal_data.yaml."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or raw.get("version") != 1:
        raise InventoryError(f"{path}: expected a version 1 mapping")
    classes = {
        name: RetentionClass(
            name=name,
            keeps=str(spec["keeps"]),
            then=str(spec["then"]),
            how_long=str(spec.get("how_long", "")),
            setting=str(spec.get("setting", "")),
        )
        for name, spec in dict(raw["retention"]).items()
    }
    entries = tuple(_entry(item, classes) for item in raw["entries"])
    return Inventory(entries, classes)


def _entry(item: Mapping[str, Any], classes: Mapping[str, RetentionClass]) -> Entry:
    entry = Entry(
        store=str(item["store"]),
        where=str(item["where"]),
        holds=str(item["holds"]),
        purpose=str(item["purpose"]),
        basis=str(item["basis"]),
        retention=str(item["retention"]),
        columns=tuple(str(c) for c in item.get("columns", ())),
    )
    if entry.store not in {"sql", "redis"}:
        raise InventoryError(f"{entry.where}: store must be sql or redis")
    if entry.retention not in classes:
        raise InventoryError(f"{entry.where}: unknown retention class {entry.retention!r}")
    if entry.store == "sql" and not entry.columns:
        raise InventoryError(f"{entry.where}: a SQL entry lists its columns")
    return entry


def undeclared_keys(names: Iterable[str], inventory: Inventory, prefix: str) -> list[str]:
    """Return the Redis keys no inventory pattern matches (callers pass personal ones), each
    named with `prefix` (REDIS_PREFIX) first; a key outside the prefix is undeclared."""
    head = prefix + ":"
    return sorted(
        k
        for k in names
        if not k.startswith(head) or inventory.entry_of_key(k.removeprefix(head)) is None
    )


def undeclared_columns(
    metadatas: Iterable[sa.MetaData],
    inventory: Inventory,
    found: Iterable[tuple[str, str]] = (),
) -> list[str]:
    """Return `table.column` for columns named like personal data (or `found` holding it)
    that the inventory does not declare."""
    declared = inventory.sql_columns()
    suspects = {
        (table.name, column.name)
        for metadata in metadatas
        for table in metadata.sorted_tables
        for column in table.columns
        if PERSONAL_COLUMN.search(column.name)
    }
    suspects |= set(found)
    return sorted(f"{t}.{c}" for t, c in suspects - declared)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_inventory(inventory: Inventory) -> str:
    """Return the Markdown table of every place personal data is kept."""
    lines = [
        "| store | where | holds | purpose | legal basis | retention |",
        "|---|---|---|---|---|---|",
    ]
    for e in inventory.entries:
        where = f"`{e.where}` ({', '.join(e.columns)})" if e.columns else f"`{e.where}`"
        lines.append(
            f"| {e.store} | {_cell(where)} | {_cell(e.holds)} | {_cell(e.purpose)} "
            f"| {_cell(e.basis)} | {e.retention} |"
        )
    return "\n".join(lines)


def render_retention(inventory: Inventory, defaults: Mapping[str, object]) -> str:
    """Return the Markdown table of retention classes (`defaults`: setting env -> default)."""
    lines = ["| class | keeps | how long | then |", "|---|---|---|---|"]
    for c in inventory.retention.values():
        how_long = c.how_long
        if c.setting:
            how_long = f"`{c.setting}` (default {defaults[c.setting]} days)"
        lines.append(f"| {c.name} | {_cell(c.keeps)} | {_cell(how_long)} | {_cell(c.then)} |")
    return "\n".join(lines)
