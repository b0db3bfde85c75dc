"""USSD adapters: one small module per aggregator protocol, all served by the same edge.

`adapters(settings)` returns them by the name in their URL (`POST /ussd/<name>`). Adding one
is a module here and a line in `ADAPTERS` (docs/aggregators.md walks through it).
"""

from __future__ import annotations

from typing import Final

from gateway.aggregators.africastalking import AfricasTalking
from gateway.aggregators.arkesel import Arkesel
from gateway.aggregators.base import Adapter, Callback, Parsed
from gateway.aggregators.generic import Fields, Generic
from gateway.aggregators.hubtel import Hubtel
from gateway.aggregators.nalo import Nalo
from gateway.config import Settings

__all__ = [
    "ADAPTERS",
    "Adapter",
    "AfricasTalking",
    "Arkesel",
    "Callback",
    "Fields",
    "Generic",
    "Hubtel",
    "Nalo",
    "Parsed",
    "adapters",
]

# Every adapter class, in the order of the README's table; each serves `/ussd/<name>`.
ADAPTERS: Final[tuple[type[Adapter], ...]] = (AfricasTalking, Hubtel, Nalo, Arkesel, Generic)


def adapters(settings: Settings) -> dict[str, Adapter]:
    """Return one adapter per protocol, by name; the configurable one set from `settings`."""
    generic = Generic(
        Fields(
            session=settings.ussd_generic_session_field,
            msisdn=settings.ussd_generic_msisdn_field,
            service=settings.ussd_generic_service_field,
            input=settings.ussd_generic_input_field,
        ),
        "latest" if settings.ussd_generic_input == "latest" else "cumulative",
    )
    built: list[Adapter] = [AfricasTalking(), Hubtel(), Nalo(), Arkesel(), generic]
    return {adapter.name: adapter for adapter in built}
