"""A phone in the browser: the USSD simulator, its SMS outbox and the menu map (dev only)."""

from gateway.simulator.views import blueprint, enabled

__all__ = ["blueprint", "enabled"]
