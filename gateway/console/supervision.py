"""What the supervisors' pages share: the personal-data stores and a phone typed by a person.

The stores (personal_data.collectors.Stores) are built once per app, on first use: they hold
the keyed hash that names a phone once the retention job replaced it, and the collectors of
the rights page.
"""

from __future__ import annotations

from typing import Final

import phonenumbers
import redis
from flask import current_app

from gateway.config import Settings
from gateway.container import personal_data_stores
from gateway.services import services_of
from menus.model import MenuSpec
from personal_data.collectors import Stores

EXTENSION_KEY: Final = "guichet_console_supervision"


def stores() -> Stores:
    """Return the app's personal-data stores (built on first use)."""
    found: Stores | None = current_app.extensions.get(EXTENSION_KEY)
    if found is None:
        settings: Settings = current_app.config["SETTINGS"]
        found = personal_data_stores(settings, services_of(current_app).get(redis.Redis))
        current_app.extensions[EXTENSION_KEY] = found
    return found


def region() -> str:
    """Return the city's country: local numbers typed at the town hall are read in it."""
    return services_of(current_app).get(MenuSpec).city.country


def phone_e164(raw: str, where: str | None = None) -> str | None:
    """Return `raw` (local or international) as a valid E.164 number, else None."""
    try:
        number = phonenumbers.parse(raw.strip()[:32], where or region())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
