"""The benchmark journey's one action (bench/journey.menus.yaml): price the chosen tax.

It mirrors the shared harness's peers, which read the tax stored at hop 3 back from Redis to
build hop 4; the amount it saves is read back again by the END screen. A hard-coded tariff is
no city's: only the benchmark registers it (bench.app imports this module), never menus.actions.
"""

from __future__ import annotations

from typing import Final

from menus.registry import ActionContext, ActionResult, actions

# The peers' fixed tariff: tax key -> (name, amount in CDF).
_TAXES: Final = {
    "1": ("Taxe de voirie", 10000),
    "2": ("Taxe de propriete", 25000),
    "3": ("Taxe de commerce", 15000),
    "4": ("Licence", 50000),
}


@actions.register("bench.quote", outcomes={"ok", "unknown"})
def quote(ctx: ActionContext) -> ActionResult:
    """Return the name and amount of the tax saved as `tax`."""
    found = _TAXES.get(str(ctx.data.get("tax", "")))
    if found is None:
        return ActionResult(outcome="unknown")
    name, amount = found
    return ActionResult(data={"tax_name": name, "amount": amount})
