"""Reaching the home screen, by any path, starts afresh: no Back or Home entries there."""

from __future__ import annotations

from tests.menus.conftest import Phone


def test_home_after_choosing_a_language_has_no_back_or_home(phone: Phone) -> None:
    phone.dial()
    home = phone.type("6", "2").body.split("\n")
    assert home[0] == "Test Testville EN"
    assert not any(line.startswith(("0.", "00.")) for line in home), home
    # 0 on home stays home rather than reopening the language menu.
    assert phone.type("0").body.split("\n") == home
