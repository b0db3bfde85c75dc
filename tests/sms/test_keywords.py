from __future__ import annotations

import pytest

from sms.keywords import Command, Keyword, Vocabulary, VocabularyError, parse
from sms.templates import load_strict

# The default pack's words (cities/goma/sms_templates.yaml `keywords:`).
GOMA = load_strict("cities/goma/sms_templates.yaml").keywords


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
    command = parse(text, GOMA)
    assert (command.keyword, command.argument, command.lang_hint) == (keyword, argument, hint)


# A word for every command the router answers (each test adds or overrides its own).
BASE = {k.value: {"any": [f"W{k.value.upper()}"]} for k in Keyword} | {"unknown": {}, "order": {}}
BASE = {k: v for k, v in BASE.items() if v}


def _vocabulary(keywords: dict[str, object], names: dict[str, object] | None = None) -> Vocabulary:
    return Vocabulary.from_data(BASE | keywords, names or {}, ("ar", "fr", "nl", "en"))


def test_a_pack_in_another_script_parses_its_own_words() -> None:
    words = _vocabulary(
        {"status": {"ar": ["حالة"], "fr": ["STATUT"]}, "help": {"ar": ["مساعدة"]}},
        {"ar": ["عربية", "AR"], "fr": ["FR"]},
    )
    assert parse("حالة 123-4567", words) == Command(Keyword.STATUS, "1234567", "ar")
    assert parse("مساعدة", words) == Command(Keyword.HELP, "", "ar")
    assert parse("حالتي", words).keyword is Keyword.UNKNOWN  # a word runs on: not the keyword
    assert parse("HELP", words).keyword is Keyword.UNKNOWN  # this pack has no English words


def test_a_word_shared_by_two_languages_hints_neither() -> None:
    words = _vocabulary({"status": {"en": ["STATUS"], "nl": ["STATUS"], "fr": ["STATUT"]}})
    assert parse("status 42", words) == Command(Keyword.STATUS, "42", None)
    assert parse("statut 42", words).lang_hint == "fr"


@pytest.mark.parametrize(
    ("keywords", "names", "message"),
    [
        ({"teleport": {"fr": ["TELEPORTE"]}}, {}, "not a command"),
        ({"status": {"fr": ["STATUT"]}, "stop": {"fr": ["Statut"]}}, {}, "means two commands"),
        ({"status": {"sw": ["HALI"]}}, {}, "not a language of the pack"),
        ({"status": {"fr": "STATUT"}}, {}, "list of non-empty words"),
        ({"status": {"fr": [""]}}, {}, "list of non-empty words"),
        ({"move": {}}, {}, "keywords: no word for move"),
        ({"status": {"fr": ["STATUT"]}}, {"xx": ["X"]}, "language_names.xx"),
    ],
)
def test_malformed_keyword_lists_are_refused(
    keywords: dict[str, object], names: dict[str, object], message: str
) -> None:
    with pytest.raises(VocabularyError, match=message):
        _vocabulary(keywords, names)
