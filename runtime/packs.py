"""City packs: where a city's data lives (`cities/<id>/`), so code names no city.

A pack is a folder holding the city's menus (`menus.yaml`, whose `city:` block carries the
pack's defaults: country, currency and its display, time zone, SMS countries, payment
operators), its SMS templates (`sms_templates.yaml`) and its catalogue and demo data
(`catalogue.yaml`), and its demo walk (`rehearsal.yaml`). `CITY=<id>` picks one; the
repository's root `menus.yaml` and `sms_templates.yaml` link to the default city's files.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

CITIES_DIR: Final = Path(__file__).resolve().parent.parent / "cities"
# The pack `make run` serves when CITY is unset; the one product line naming a city
# (tests/test_city_packs.py checks that no other does).
DEFAULT_CITY: Final = "goma"
MENUS_FILE: Final = "menus.yaml"
SMS_TEMPLATES_FILE: Final = "sms_templates.yaml"
CATALOGUE_FILE: Final = "catalogue.yaml"
REHEARSAL_FILE: Final = "rehearsal.yaml"
_PACK_ID: Final = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class PackError(ValueError):
    """A CITY names no pack, or a pack's defaults cannot be read."""


@dataclass(frozen=True, slots=True)
class Pack:
    """One city's folder and the files in it."""

    id: str
    root: Path

    @property
    def menus(self) -> Path:
        """Return the pack's menus file."""
        return self.root / MENUS_FILE

    @property
    def sms_templates(self) -> Path:
        """Return the pack's SMS templates file."""
        return self.root / SMS_TEMPLATES_FILE

    @property
    def catalogue(self) -> Path:
        """Return the pack's catalogue and demo data."""
        return self.root / CATALOGUE_FILE

    @property
    def rehearsal(self) -> Path:
        """Return the pack's demo walk (the demo citizen's phone, journeys the tests play)."""
        return self.root / REHEARSAL_FILE

    def demo_phone(self) -> str | None:
        """Return the demo citizen's phone (rehearsal.yaml `phone`), None without one."""
        try:
            document = yaml.safe_load(self.rehearsal.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return None
        phone = document.get("phone") if isinstance(document, dict) else None
        return str(phone) if phone else None

    def city(self) -> dict[str, Any]:
        """Return the `city:` block of the pack's menus (its defaults), unchecked."""
        try:
            block = _city_block(str(self.menus), self.menus.stat().st_mtime_ns)
        except (OSError, yaml.YAMLError) as error:
            raise PackError(f"city pack {self.id!r}: cannot read {self.menus}: {error}") from None
        if block is None:
            raise PackError(f"city pack {self.id!r}: {self.menus} has no city: block")
        return dict(block)


@functools.lru_cache(maxsize=32)
def _city_block(path: str, _mtime_ns: int) -> dict[str, Any] | None:
    # Settings are built often (every test, every CLI): read each menus file once per change.
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    block = document.get("city") if isinstance(document, dict) else None
    return block if isinstance(block, dict) else None


def pack(city_id: str, root: Path = CITIES_DIR) -> Pack:
    """Return the pack of `city_id`; raise PackError naming the packs there are."""
    if not _PACK_ID.fullmatch(city_id) or not (root / city_id / MENUS_FILE).is_file():
        known = ", ".join(p.id for p in all_packs(root)) or "none"
        raise PackError(f"CITY={city_id!r} names no city pack in {root} (there are: {known})")
    return Pack(city_id, root / city_id)


def all_packs(root: Path = CITIES_DIR) -> list[Pack]:
    """Return every pack under `root`, by id."""
    if not root.is_dir():
        return []
    return [
        Pack(child.name, child)
        for child in sorted(root.iterdir())
        if _PACK_ID.fullmatch(child.name) and (child / MENUS_FILE).is_file()
    ]
