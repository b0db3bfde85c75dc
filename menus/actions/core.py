"""The engine's own actions."""

from __future__ import annotations

from menus.registry import ActionContext, ActionResult, actions


@actions.register("core.set_language", outcomes={"ok", "unknown"})
def set_language(ctx: ActionContext) -> ActionResult:
    """Switch the session and the phone's preference to the language saved as `lang`."""
    lang = str(ctx.data.get("lang", ""))
    if not lang:
        return ActionResult(outcome="unknown")
    # The hop handler checks the code against menus.yaml languages and persists it with the
    # session, in the same Redis round trip.
    return ActionResult(outcome="ok", language=lang)
