"""Every provider's delivery-report statuses, read onto our never-regress states.

A report is applied by the provider that sent it, not the one configured now: reports about
messages sent before a city changed SMS_PROVIDER still land (sms.delivery).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sms.providers import africastalking, infobip, orange, twilio
from sms.providers.base import ReportState

REPORT_STATES: Final[Mapping[str, Mapping[str, ReportState]]] = {
    africastalking.NAME: africastalking.REPORT_STATES,
    twilio.NAME: twilio.REPORT_STATES,
    orange.NAME: orange.REPORT_STATES,
    infobip.NAME: infobip.REPORT_STATES,
}
PROVIDERS: Final = tuple(REPORT_STATES)  # the real providers (console sends no reports)


def report_state(provider: str, status: str) -> ReportState | None:
    """Return what `provider`'s report `status` means, or None for a status we do not know."""
    return REPORT_STATES.get(provider, {}).get(status)
