"""Read the console SMS provider's outbox for one phone, shaped for the simulator panel."""

from __future__ import annotations

from typing import Any

import runtime


def messages_for(services: runtime.Container, msisdn: str) -> list[dict[str, Any]]:
    """Return the SMS sent to `msisdn` (E.164), newest first, as JSON-ready dicts."""
    del services, msisdn  # wired to sms/'s outbox once it lands
    return []


def set_phone_language(services: runtime.Container, msisdn: str, lang: str) -> None:
    """Remember `lang` as `msisdn`'s language, as the USSD language menu does."""
    del services, msisdn, lang  # wired to the session store's phone language once it exists
