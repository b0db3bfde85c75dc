"""The actions menus.yaml may call, one module per package; importing one registers it.

Keep this list explicit: a module appears here when its author adds its line.
"""

from menus.actions import civic, core, payables, payments, receipts

__all__ = ["civic", "core", "payables", "payments", "receipts"]
