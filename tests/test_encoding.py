import pytest

from text.encoding import cost, is_gsm7


@pytest.mark.parametrize(
    ("text", "encoding", "units"),
    [
        ("Bienvenue", "GSM-7", 9),
        ("Référence réglée à Goma", "GSM-7", 23),  # é è à are in the basic set
        ("Prêt", "UCS-2", 4),  # ê is not
        ("façon", "UCS-2", 5),  # ç is not: only Ç is, and it is ambiguous
        ("[ref]", "GSM-7", 7),  # brackets cost two septets each
        ("10 €", "GSM-7", 5),
        ("cœur", "UCS-2", 4),
        ("ok 👍", "UCS-2", 5),  # a surrogate pair is two UTF-16 units
    ],
)
def test_cost_counts_units_in_the_encoding_the_text_needs(
    text: str, encoding: str, units: int
) -> None:
    measured = cost(text)
    assert (measured.encoding, measured.units) == (encoding, units)
    assert measured.is_gsm7 is is_gsm7(text)


def test_ussd_budget_drops_to_80_when_one_character_forces_ucs2() -> None:
    assert cost("a" * 182).fits_ussd
    assert not cost("a" * 183).fits_ussd
    assert not cost("ê" + "a" * 80).fits_ussd
    assert cost("ê" + "a" * 79).fits_ussd


@pytest.mark.parametrize(
    ("length", "char", "segments"),
    [
        (160, "a", 1),
        (161, "a", 2),
        (306, "a", 2),
        (307, "a", 3),
        (70, "ê", 1),
        (71, "ê", 2),
        (134, "ê", 2),
        (135, "ê", 3),
    ],
)
def test_sms_segments(length: int, char: str, segments: int) -> None:
    assert cost(char * length).sms_segments == segments


def test_ambiguous_capital_c_cedilla_is_reported() -> None:
    assert cost("Ça va").ambiguous == ("Ç",)
    assert cost("Ça va").is_gsm7
