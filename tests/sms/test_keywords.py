from __future__ import annotations

import pytest

from sms.keywords import Keyword, parse


@pytest.mark.parametrize(
    ("text", "keyword", "argument", "hint"),
    [
        ("STATUT 12345674", Keyword.STATUS, "12345674", "fr"),
        ("  statut   12345674 ", Keyword.STATUS, "12345674", "fr"),
        ("Statut:12345674", Keyword.STATUS, "12345674", "fr"),
        ("statut1234567 4", Keyword.STATUS, "12345674", "fr"),
        ("STATUS 1234-5674", Keyword.STATUS, "12345674", "en"),
        ("hali 123 456 74", Keyword.STATUS, "12345674", "sw"),
        ("STATUT", Keyword.STATUS, "", "fr"),
        ("Reçu 1234 5678 9", Keyword.RECEIPT, "123456789", "fr"),
        ("RECU 1234-5678", Keyword.RECEIPT, "12345678", "fr"),
        ("receipt 42", Keyword.RECEIPT, "42", "en"),
        ("Risiti 42", Keyword.RECEIPT, "42", "sw"),
        ("aide", Keyword.HELP, "", "fr"),
        ("HELP!", Keyword.HELP, "", "en"),
        ("Msaada", Keyword.HELP, "", "sw"),
        ("stop", Keyword.STOP, "", None),
        ("ARRÊT", Keyword.STOP, "", "fr"),
        ("Arret svp", Keyword.STOP, "", "fr"),
        ("start", Keyword.START, "", None),
        ("LANGUE sw", Keyword.LANGUAGE, "sw", "fr"),
        ("langue Français", Keyword.LANGUAGE, "fr", "fr"),
        ("LANGUAGE english", Keyword.LANGUAGE, "en", "en"),
        ("lugha Kiswahili", Keyword.LANGUAGE, "sw", "sw"),
        ("LANGUE klingon", Keyword.LANGUAGE, "", "fr"),
        ("STOPPER", Keyword.UNKNOWN, "", None),
        ("STARTUP", Keyword.UNKNOWN, "", None),
        ("bonjour", Keyword.UNKNOWN, "", None),
        ("", Keyword.UNKNOWN, "", None),
        ("👍", Keyword.UNKNOWN, "", None),
    ],
)
def test_parse(text: str, keyword: Keyword, argument: str, hint: str | None) -> None:
    command = parse(text)
    assert (command.keyword, command.argument, command.lang_hint) == (keyword, argument, hint)
