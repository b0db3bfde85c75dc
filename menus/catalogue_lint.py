"""What `menus lint` checks in the catalogue beside a menus file: its `appointments:` section.

The catalogue (a pack's catalogue.yaml, or `--catalogue PATH`) describes appointment services as
data; this module reports what would break a screen or an SMS: a slot length that does not
divide the opening hours, a text missing in one of the menus' languages, a name that would force
UCS-2 (when menus.yaml declares `appt_service_name` GSM-7), a screen naming an unknown service
in its `args: {service: ...}`, and a document whose `appointment_service` (booked when an agent
decides an appointment is needed) names no service.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from civic.appointments import check_catalogue
from menus.loader import Problem
from menus.model import MenuSpec
from runtime.packs import CATALOGUE_FILE
from text.encoding import cost


def default_catalogue(menus_path: str | Path) -> Path | None:
    """Return the catalogue beside a menus file (its pack's catalogue.yaml), if any."""
    # resolve(): the root menus.yaml is a link into the default city's pack.
    found = Path(menus_path).resolve().parent / CATALOGUE_FILE
    return found if found.is_file() else None


def catalogue_problems(spec: MenuSpec, catalogue: Path) -> Iterator[Problem]:
    """Yield every problem of the catalogue's appointments and of the screens naming them."""
    try:
        document: Any = yaml.safe_load(catalogue.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        yield Problem("catalogue", f"{catalogue}: cannot read: {error}")
        return
    section = document.get("appointments") if isinstance(document, dict) else None
    services, problems = check_catalogue(section, spec.languages)
    name = catalogue.name  # lines read `menus.yaml:catalogue.yaml:appointments.x: ...`
    for problem in problems:
        where, _, message = problem.partition(": ")
        yield Problem(f"{name}:{where}", message)
    # A pack whose menus declare `appt_service_name` UCS-2 (Arabic names) budgets for it.
    declared = spec.placeholders.get("appt_service_name")
    gsm7_only = declared is None or not declared.ucs2
    for service in services:
        for lang, text in service.names.items():
            if gsm7_only and not cost(text).is_gsm7:
                yield Problem(
                    f"{name}:appointments.{service.code}.names.{lang}",
                    "forces UCS-2 (appt_service_name is GSM-7): use GSM-7 letters",
                )
    known = {service.code for service in services}
    for screen_id, screen in spec.screens.items():
        named = screen.args.get("service") if screen.action else None
        if (
            named is not None
            and str(screen.action).startswith("appointments.")
            and named not in known
        ):
            yield Problem(f"screens.{screen_id}.args.service", f"unknown service {named!r}")
    documents = document.get("documents") if isinstance(document, dict) else None
    for i, entry in enumerate(documents if isinstance(documents, list) else []):
        wanted = entry.get("appointment_service") if isinstance(entry, dict) else None
        if wanted is not None and wanted not in known:
            yield Problem(
                f"{name}:documents.{entry.get('code', i)}.appointment_service",
                f"unknown service {wanted!r}",
            )
