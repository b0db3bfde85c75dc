"""Set a phone's language the way a citizen does: through the USSD language menu itself.

The engine keeps a phone's language beside its sessions and only its language action writes
it; so instead of poking at its keys, the simulator walks the menu path that reaches the
`core.set_language` action with the chosen option, through the engine's own HopHandler.
"""

from __future__ import annotations

import secrets
from collections import deque
from typing import Final

from menus.hop import HopHandler, UssdRequest
from menus.model import HOME, MenuSpec

SET_LANGUAGE_ACTION: Final = "core.set_language"
SIMULATOR_NETWORK_CODE: Final = "99999"


def language_path(spec: MenuSpec, lang: str) -> list[str] | None:
    """Return the keys that pick `lang` in the language menu, from `start`; None if none do."""
    seen = {spec.start}
    queue: deque[tuple[str, list[str]]] = deque([(spec.start, [])])
    while queue:
        screen_id, keys = queue.popleft()
        screen = spec.screens[screen_id]
        for option in screen.options:
            target = spec.screens.get(option.next)
            if option.value == lang and target is not None and target.action == SET_LANGUAGE_ACTION:
                return [*keys, option.key]
            if option.next not in seen and target is not None and target.kind == "menu":
                seen.add(option.next)
                queue.append((option.next, [*keys, option.key]))
    return None


def set_language(hop: HopHandler, spec: MenuSpec, msisdn: str, lang: str) -> bool:
    """Choose `lang` for `msisdn` in a short USSD session of its own; False if no menu offers it."""
    path = language_path(spec, lang)
    if path is None:
        return False
    session_id = "SIM_lang_" + secrets.token_hex(6)
    # Dial, walk to the option, then `00` (home): a session left at home leaves no "continue
    # where you left off" offer behind for the tester's next dial.
    texts = ["", *("*".join(path[: i + 1]) for i in range(len(path))), "*".join([*path, HOME])]
    for text in texts:
        reply = hop.handle(
            UssdRequest(session_id, msisdn, spec.service_code, SIMULATOR_NETWORK_CODE, text)
        )
        if reply.end:
            return text == texts[-2]  # a language menu that ends the session is fine too
    return True
