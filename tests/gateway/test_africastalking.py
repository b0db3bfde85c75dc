"""The Africa's Talking adapter: every field checked, numbers in E.164, garbage refused."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.africastalking import (
    MAX_BODY_BYTES,
    MAX_FORM_FIELDS,
    MAX_TEXT_CHARS,
    UssdParseError,
    format_reply,
    normalise_msisdn,
    parse_callback,
    split_form,
)
from menus.hop import UssdReply, UssdRequest

FORM = "application/x-www-form-urlencoded"
VALID = {
    "sessionId": "ATUid_9f2c41",
    "serviceCode": "*384*12#",
    "phoneNumber": "+243810000001",
    "networkCode": "63902",
    "text": "1*2",
}


def body(**changes: str | None) -> bytes:
    """Return the valid callback with `changes` applied (None drops a field)."""
    form = {**VALID, **changes}
    return urlencode({k: v for k, v in form.items() if v is not None}).encode()


def test_a_valid_callback_becomes_an_aggregator_neutral_request() -> None:
    assert parse_callback(body(), FORM, "CD") == UssdRequest(
        session_id="ATUid_9f2c41",
        msisdn="+243810000001",
        service_code="*384*12#",
        network_code="63902",
        text="1*2",
        cumulative=True,
    )


def test_the_first_hop_has_an_empty_text_and_a_charset_is_accepted() -> None:
    request = parse_callback(body(text=""), FORM + "; charset=UTF-8", "CD")
    assert request.text == ""


def test_a_star_typed_inside_an_input_travels_untouched() -> None:
    # The user typed "1", then "*123*" as one answer: the engine, not the adapter, splits.
    assert parse_callback(body(text="1**123*"), FORM, "CD").text == "1**123*"


def test_unknown_fields_are_ignored_and_a_missing_network_code_is_tolerated() -> None:
    request = parse_callback(body(networkCode=None) + b"&extra=1", FORM, "CD")
    assert request.network_code == ""


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+243810000001", "CD", "+243810000001"),
        ("243810000001", "CD", "+243810000001"),  # "+" dropped by a gateway
        ("0810000001", "CD", "+243810000001"),  # national format
        (" +243 81 000 0001 ", "CD", "+243810000001"),
        ("0712345678", "KE", "+254712345678"),  # the city's country decides
        ("+254712345678", "CD", "+254712345678"),  # a roaming subscriber keeps their number
        ("254712345678", "CD", "+254712345678"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, region: str, e164: str) -> None:
    assert normalise_msisdn(raw, region) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0000",
        "+2438100",  # too short for the DRC
        "+15555550123",  # a fictional US number
        "0712345678",  # a Kenyan national number read in the DRC
        "+243abc0000001",
        "+243810000001;DROP",
        "\u0660\u0668\u0661\u0660",  # Arabic-Indic digits
        "+" + "9" * 40,
    ],
)
def test_invalid_foreign_or_garbage_numbers_are_refused(raw: str) -> None:
    with pytest.raises(UssdParseError) as caught:
        parse_callback(body(phoneNumber=raw), FORM, "CD")
    assert caught.value.field == "phoneNumber"


@pytest.mark.parametrize("field", ["sessionId", "serviceCode", "phoneNumber", "text"])
def test_a_missing_field_is_named(field: str) -> None:
    with pytest.raises(UssdParseError) as caught:
        parse_callback(body(**{field: None}), FORM, "CD")
    assert caught.value.field == field
    assert str(caught.value) == f"{field}: missing"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sessionId": ""}, "sessionId"),
        ({"sessionId": "a b"}, "sessionId"),
        ({"sessionId": "x" * 129}, "sessionId"),
        ({"serviceCode": "*384*12#<script>"}, "serviceCode"),
        ({"serviceCode": ""}, "serviceCode"),
        ({"text": "1" * (MAX_TEXT_CHARS + 1)}, "text"),
        ({"text": "1*\x00"}, "text"),
        ({"text": "1*\u200b2"}, "text"),  # zero-width space: no keypad types it
        ({"text": "1*\ufffd"}, "text"),
    ],
)
def test_malformed_fields_are_named(changes: dict[str, str], field: str) -> None:
    with pytest.raises(UssdParseError) as caught:
        parse_callback(body(**changes), FORM, "CD")
    assert caught.value.field == field


@pytest.mark.parametrize("raw", ["639-02", "sandbox", "", "1" * 11, "6 3 9"])
def test_a_network_code_that_is_not_one_never_refuses_the_session(raw: str) -> None:
    # A third-party test client sends "sandbox": the hop is served, the code not kept.
    assert parse_callback(body(networkCode=raw), FORM, "CD").network_code == ""


def test_the_longest_accepted_text_passes() -> None:
    assert len(parse_callback(body(text="1" * MAX_TEXT_CHARS), FORM, "CD").text) == MAX_TEXT_CHARS


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (body(), "application/json"),
        (body(), None),
        (b'{"sessionId": "x"}', "application/json"),
        (body() + b"&text=%C3%28", FORM),  # percent-escaped bytes that are not UTF-8
        (body(text=None) + b"&text=\xff\xfe", FORM),  # raw non-ASCII bytes
        (body(text=None) + b"&text=%FF", FORM),
        (body() + b"&text=2", FORM),  # a field sent twice
        (b"&".join([b"f%d=1" % i for i in range(40)]), FORM),  # a flood of fields
        (body(text="1" * MAX_BODY_BYTES), FORM),
    ],
)
def test_bodies_that_are_not_one_utf8_form_are_refused(
    raw: bytes, content_type: str | None
) -> None:
    with pytest.raises(UssdParseError):
        parse_callback(raw, content_type, "CD")


def test_a_parse_error_never_echoes_the_value() -> None:
    with pytest.raises(UssdParseError) as caught:
        parse_callback(body(phoneNumber="+243999"), FORM, "CD")
    assert "999" not in str(caught.value)


def test_replies_are_con_or_end_bodies() -> None:
    assert format_reply(UssdReply(end=False, body="1. Payer")) == "CON 1. Payer"
    assert format_reply(UssdReply(end=True, body="Merci")) == "END Merci"


def _parse_qsl_answer(text: str) -> list[tuple[str, str]] | str:
    try:
        return parse_qsl(
            text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError:
        return "refused"


def _split_form_answer(text: str) -> list[tuple[str, str]] | str:
    try:
        return split_form(text)
    except ValueError:
        return "refused"


# Forms built from the characters that matter to the parser: separators, escapes (valid,
# truncated, non-UTF-8), plus signs, letters of the field names.
_FORM_PIECES = st.sampled_from(
    ["&", "=", "+", "%", "%2A", "%2", "%C3%A9", "%C3%28", "%FF", "%zz", "text", "a", "1", "*"]
)


@given(st.lists(_FORM_PIECES, max_size=40).map("".join))
@example("&" * MAX_FORM_FIELDS)
@example("&" * (MAX_FORM_FIELDS - 1))
@example("")
@example("text")
@example("=&=")
def test_the_hand_split_form_gives_parse_qsl_s_answers(text: str) -> None:
    assert _split_form_answer(text) == _parse_qsl_answer(text)
