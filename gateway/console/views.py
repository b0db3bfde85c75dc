"""Every page of the console, imported in menu order; `install` registers them on the app."""

from __future__ import annotations

from gateway.console import (
    views_account,
    views_appointments,
    views_audit,
    views_counter,
    views_insight,
    views_payments,
    views_requests,
    views_rights,
    views_sms,
)
from gateway.console.web import install

PAGES = (
    views_requests,
    views_appointments,
    views_audit,
    views_account,
    views_counter,
    views_payments,
    views_sms,
    views_insight,
    views_rights,
)

__all__ = ["PAGES", "install"]
