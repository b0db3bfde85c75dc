"""The actions menus.yaml may call, one module per package; importing one registers it.

Keep this list explicit: a module appears here when its author adds its line.
"""

from menus.actions import appointments, civic, core, payables, payments, receipts
from menus.registry import Registry, actions

__all__ = [
    "appointments",
    "civic",
    "core",
    "default_registry",
    "payables",
    "payments",
    "receipts",
]


def default_registry() -> Registry:
    """Return the process's registry, every built-in action module above imported."""
    return actions
