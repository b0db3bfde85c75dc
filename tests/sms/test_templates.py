from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main as gateway_main
from sms.check import check
from sms.templates import TemplateBook, TemplateError, load, load_strict
from text.encoding import cost


def main(argv: list[str]) -> int:
    """Run `python -m gateway sms <argv>` in this process."""
    return gateway_main(["sms", *argv])


SHIPPED = Path(__file__).resolve().parents[2] / "sms_templates.yaml"


@pytest.fixture(scope="module")
def book() -> TemplateBook:
    return load_strict(SHIPPED)


def test_the_shipped_templates_pass_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["templates", "check", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert "0 errors" in out
    assert "request_ready_for_pickup" in out
    assert "saves" in out  # transliteration savings are shown


def test_every_contract_key_exists_in_every_language(book: TemplateBook) -> None:
    report = check(book)
    keys = {(row.key, row.lang) for row in report.costs}
    for key in ("request_created", "payment_receipt", "otp", "request_rejected"):
        for lang in ("fr", "en", "sw"):
            assert (key, lang) in keys


def test_alerts_about_a_request_tell_how_to_pull_the_status(book: TemplateBook) -> None:
    for key, template in book.templates.items():
        if key.startswith("request_"):
            for lang, text in template.texts.items():
                assert "{ref}" in text and "{short_code}" in text, (key, lang)
                assert any(word in text for word in ("STATUT", "STATUS", "HALI")), (key, lang)


def test_otp_is_one_gsm7_segment_in_every_language(book: TemplateBook) -> None:
    for lang in book.languages:
        measured = cost(book.message("otp", lang, {"code": "123456", "minutes": 5}))
        assert (measured.encoding, measured.sms_segments) == ("GSM-7", 1)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "t.yaml"
    head = SHIPPED.read_text(encoding="utf-8")
    path.write_text(head + body, encoding="utf-8")
    return path


def test_check_fails_when_a_language_is_missing(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "  extra_notice:\n    params: []\n    max_segments: 1\n    class: notice\n    text:\n"
        '      fr: "Bonjour"\n',
    )
    assert main(["templates", "check", str(path)]) == 1
    with pytest.raises(TemplateError, match="no en text"):
        load_strict(path)


def test_check_fails_when_worst_case_exceeds_max_segments(tmp_path: Path) -> None:
    long = "x" * 150
    path = _write(
        tmp_path,
        "  extra_notice:\n    params: [reason]\n    max_segments: 1\n    class: notice\n    text:\n"
        f'      fr: "{long} {{reason}}"\n      en: "{long}"\n      sw: "{long}"\n',
    )
    assert main(["templates", "check", str(path)]) == 1
    report = check(load(path))
    assert any("extra_notice.fr" in error and "segments" in error for error in report.errors)


def test_check_flags_the_ambiguous_c_cedilla(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "  extra_notice:\n    params: []\n    max_segments: 1\n    class: notice\n    text:\n"
        '      fr: "ÇA VA"\n      en: "ok"\n      sw: "ok"\n',
    )
    assert main(["templates", "check", str(path)]) == 1
    report = check(load(path))
    assert any("ambiguous" in error for error in report.errors)


def test_check_fails_on_an_unreadable_file(tmp_path: Path) -> None:
    assert main(["templates", "check", str(tmp_path / "missing.yaml")]) == 1


@pytest.mark.parametrize(
    ("key", "lang", "params", "encoding", "segments"),
    [
        # French with é/è/à only stays GSM-7.
        (
            "request_created",
            "fr",
            {"ref": "12345674", "document": "Acte de décès", "short_code": "*384*12#"},
            "GSM-7",
            1,
        ),
        # A name with œ: UCS-2 raw, GSM-7 once transliterated (policy on).
        (
            "request_created",
            "fr",
            {"ref": "12345674", "document": "Certificat de vœux", "short_code": "*384*12#"},
            "GSM-7",
            1,
        ),
        # prêt + a reason with ç and « »: transliterated whole.
        (
            "request_ready_for_pickup",
            "fr",
            {
                "ref": "12345674",
                "document": "Permis de bâtir",
                "pickup": "Guichet n°3, «Mairie», lundi",
                "short_code": "*384*12#",
            },
            "GSM-7",
            1,
        ),
        # Swahili is plain GSM-7.
        (
            "request_rejected",
            "sw",
            {
                "ref": "12345674",
                "document": "Cheti cha kuzaliwa",
                "reason": "Nakala ya kitambulisho haipo",
                "short_code": "*384*12#",
            },
            "GSM-7",
            1,
        ),
        # A character with no replacement keeps the whole message UCS-2 (all or nothing):
        # the ç and ê around it are not transliterated either.
        (
            "request_rejected",
            "fr",
            {
                "ref": "12345674",
                "document": "Reçu fiscal",
                "reason": "Pièce illisible ✗ prêt",
                "short_code": "*384*12#",
            },
            "UCS-2",
            2,
        ),
    ],
)
def test_segments_of_rendered_messages(
    key: str, lang: str, params: dict[str, str], encoding: str, segments: int
) -> None:
    text = load_strict(SHIPPED).message(key, lang, params)
    measured = cost(text)
    assert (measured.encoding, measured.sms_segments) == (encoding, segments)
    if encoding == "UCS-2":
        assert "ç" in text and "ê" in text  # untouched


def test_transliteration_table(book: TemplateBook) -> None:
    policy = book.transliteration
    assert policy.transliterate("cœur n°3 « ici » façon prêt") == 'coeur no3 "ici" facon pret'
    assert policy.attempt("déjà GSM") is None  # nothing to do
    assert policy.attempt("ok ✓ ê") is None  # cannot become GSM-7


def test_extension_characters_count_double() -> None:
    assert cost("{ref}").units == 7
    assert cost("€" * 80).sms_segments == 1
    assert cost("€" * 81).sms_segments == 2


def test_values_are_cut_to_their_declared_length(book: TemplateBook) -> None:
    text = book.render("reply_status_unknown", "en", {"ref": "9" * 50, "short_code": "*1#"})
    assert "9" * 12 in text and "9" * 13 not in text


def test_unknown_template_or_missing_params_raise(book: TemplateBook) -> None:
    with pytest.raises(TemplateError):
        book.render("nope", "fr", {})
    with pytest.raises(TemplateError, match="needs"):
        book.render("otp", "fr", {"code": "1"})


def test_check_refuses_an_article_glued_to_a_name(tmp_path: Path) -> None:
    # "de {tax}" reads "de Impôt..." where French wants "d'Impôt"; "a {document}" likewise.
    path = _write(
        tmp_path,
        "  extra_notice:\n    class: notice\n    params: [tax, document]\n    max_segments: 2\n"
        "    text:\n"
        '      fr: "Rappel: paiement de {tax}."\n      en: "Pay a {document} fee"\n'
        '      sw: "Lipa {tax}"\n',
    )
    assert main(["templates", "check", str(path)]) == 1
    errors = check(load(path)).errors
    assert any("extra_notice.fr" in e and "'de {tax}'" in e for e in errors)
    assert any("extra_notice.en" in e and "'a {document}'" in e for e in errors)
    assert not any("extra_notice.sw" in e for e in errors)


def test_check_fails_on_a_template_without_a_class(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "  extra_notice:\n    params: []\n    max_segments: 1\n    text:\n"
        '      fr: "Bonjour"\n      en: "Hello"\n      sw: "Habari"\n',
    )
    assert main(["templates", "check", str(path)]) == 1
    with pytest.raises(TemplateError, match="extra_notice: class must be essential or notice"):
        load_strict(path)


def test_every_shipped_template_has_the_class_its_purpose_needs(book: TemplateBook) -> None:
    notices = {key for key, template in book.templates.items() if not template.essential}
    assert notices == {key for key in book.templates if key.startswith("notice_")}
    for key in ("otp", "payment_receipt", "payment_failed_other", "request_created", "reply_help"):
        assert book.templates[key].essential, key


def test_only_secret_params_are_masked_for_the_log(book: TemplateBook) -> None:
    assert book.loggable("otp", {"code": "187280", "minutes": 5}) == {
        "code": "••••••",
        "minutes": "5",
    }
    receipt = {"amount": 5, "currency": "CDF", "tax": "T", "ref": "1", "receipt_code": "12"}
    assert (
        book.loggable("payment_receipt", {**receipt, "date": "01/01/2026"})["receipt_code"] == "12"
    )
