"""Africa's Talking USSD: parse its callback form into a UssdRequest, format CON/END replies.

A callback looks like this (application/x-www-form-urlencoded, one POST per hop)::

    sessionId=ATUid_9f2c41&serviceCode=%2A384%2A12%23&phoneNumber=%2B243810000001
    &networkCode=63902&text=1%2A2

`text` is everything typed so far joined by `*` (empty on the first hop); the engine, not
this module, works out the latest input from it, so an input containing `*` survives.
Nothing here knows Flask: the blueprint hands over the raw body and the Content-Type.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final
from urllib.parse import unquote

import phonenumbers

from menus.hop import UssdReply, UssdRequest

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
REPLY_CONTENT_TYPE: Final = "text/plain; charset=utf-8"
# A real callback is a few hundred bytes; anything far larger is not from the aggregator.
MAX_BODY_BYTES: Final = 8192
# Everything typed in one session, joined by "*": ~180 s of keypad input never gets near this.
MAX_TEXT_CHARS: Final = 2000
_SESSION_ID: Final = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
_SERVICE_CODE: Final = re.compile(r"[*#0-9]{2,32}")
# A mobile network code (MCC+MNC); anything else (a test client's "sandbox") is not kept.
_NETWORK_CODE: Final = re.compile(r"[0-9]{1,10}")
_PHONE_CHARS: Final = re.compile(r"\+?[0-9 ()\-]{4,32}")
# Five fields are ours; a form of more than this many is not a callback.
MAX_FORM_FIELDS: Final = 32
_FIELDS: Final = frozenset({"sessionId", "serviceCode", "phoneNumber", "networkCode", "text"})
_FULL_WIDTH_FIRST: Final = "\uff01"  # ！ .. ～ map onto ! .. ~
_FULL_WIDTH_LAST: Final = "\uff5e"
_FULL_WIDTH_OFFSET: Final = 0xFEE0
_LOOK_ALIKES: Final = {"¡": "@", "\u3000": " "}


class UssdParseError(ValueError):
    """The callback cannot be turned into a hop; `field` names the culprit (never its value)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_callback(body: bytes, content_type: str | None, default_region: str) -> UssdRequest:
    """Parse one USSD callback body; raise UssdParseError when anything is off."""
    form = _decode_form(body, content_type)
    return UssdRequest(
        session_id=check_session_id(_required(form, "sessionId")),
        msisdn=normalise_msisdn(_required(form, "phoneNumber"), default_region),
        service_code=check_service_code(_required(form, "serviceCode")),
        network_code=network_code(form.get("networkCode", "")),
        text=check_text(_required(form, "text", may_be_empty=True)),
        cumulative=True,
    )


def network_code(raw: str) -> str:
    """Return `raw` when it is a mobile network code, else "" (never a reason to refuse)."""
    # It only says which operator routed the hop: missing, "sandbox" or "639-02" all dial.
    return raw if _NETWORK_CODE.fullmatch(raw) else ""


def format_reply(reply: UssdReply) -> str:
    """Return the response body Africa's Talking expects: `CON …` or `END …`."""
    return reply.wire()


# Every hop of a session repeats its number, and phonenumbers' parse + validation is the
# dearest step of parsing a callback (~0.2 ms): remember the last few thousand answers.
@functools.lru_cache(maxsize=8192)
def normalise_msisdn(raw: str, default_region: str) -> str:
    """Return `raw` as E.164, reading national numbers in `default_region`."""
    candidate = raw.strip()
    if not _PHONE_CHARS.fullmatch(candidate):
        raise UssdParseError("phoneNumber", "not a phone number")
    number = _parse_number(candidate, default_region.upper())
    # Some gateways drop the "+" of an international number: try that reading second.
    if number is None and candidate[0].isdigit() and not candidate.startswith("0"):
        number = _parse_number("+" + candidate, default_region.upper())
    if number is None:
        raise UssdParseError("phoneNumber", "not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_number(candidate: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _decode_form(body: bytes, content_type: str | None) -> dict[str, str]:
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    if mimetype != FORM_CONTENT_TYPE:
        raise UssdParseError("body", f"expected {FORM_CONTENT_TYPE}")
    if len(body) > MAX_BODY_BYTES:
        raise UssdParseError("body", "too large")
    try:
        pairs = split_form(body.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        # Raw non-ASCII bytes, percent-escapes that are not UTF-8, or a flood of fields.
        raise UssdParseError("body", "not a UTF-8 form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name not in _FIELDS:
            continue  # the aggregator may add fields; only ours matter
        if name in form:
            raise UssdParseError(name, "sent twice")
        form[name] = value
    return form


def split_form(text: str) -> list[tuple[str, str]]:
    """Split a urlencoded form as `parse_qsl(text, keep_blank_values=True, errors="strict",
    max_num_fields=MAX_FORM_FIELDS)` does, in a fraction of its time (it was most of a hop's
    parsing); tests hold the two to the same answers. Raise ValueError like it does.
    """
    if text.count("&") >= MAX_FORM_FIELDS:
        raise ValueError("Max number of fields exceeded")
    pairs: list[tuple[str, str]] = []
    for pair in text.split("&") if text else ():
        if pair:
            name, _, value = pair.partition("=")
            pairs.append((_form_unquote(name), _form_unquote(value)))
    return pairs


def _form_unquote(raw: str) -> str:
    # Only short values are remembered: a flood of long unique bodies must not fill memory.
    return _short_unquote(raw) if len(raw) <= _CACHED_FIELD_CHARS else _unquote_plus(raw)


_CACHED_FIELD_CHARS: Final = 64


# Names, service codes, phone numbers and most texts ("1", "1*2") repeat from hop to hop.
@functools.lru_cache(maxsize=4096)
def _short_unquote(raw: str) -> str:
    return _unquote_plus(raw)


def _unquote_plus(raw: str) -> str:
    if "+" in raw:
        raw = raw.replace("+", " ")
    return unquote(raw, errors="strict") if "%" in raw else raw


def _required(form: dict[str, str], name: str, *, may_be_empty: bool = False) -> str:
    value = form.get(name)
    if value is None or (not may_be_empty and value.strip() == ""):
        raise UssdParseError(name, "missing")
    return value


def check_session_id(value: str) -> str:
    """Return `value` when it is a session id an aggregator could send; else raise."""
    if not _SESSION_ID.fullmatch(value):
        raise UssdParseError("sessionId", "not a session id")
    return value


def check_service_code(value: str) -> str:
    """Return the dialled USSD code, stripped; raise when it is not one."""
    value = value.strip()
    if not _SERVICE_CODE.fullmatch(value):
        raise UssdParseError("serviceCode", "not a USSD code")
    return value


def check_text(value: str) -> str:
    """Return keypad input as the engine reads it (ASCII digits); raise on garbage."""
    if len(value) > MAX_TEXT_CHARS:
        raise UssdParseError("text", "too long")
    if value.isascii() and value.isprintable():
        return value  # every ordinary hop: digits, `*` and `#`
    # A keypad cannot type control or invisible characters; their presence means garbage.
    for char in value:
        if unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn"} or char == "\ufffd":
            raise UssdParseError("text", "contains characters a phone cannot type")
    return normalise_keypad(value)


def normalise_keypad(value: str) -> str:
    """Return `value` with keypad look-alikes made ASCII: other scripts' digits, full width, ¡."""
    # Handsets set to Arabic type ٠-٩ (or ۰-۹), some East-Asian ones full-width ０-９ and ＊;
    # our menus and validators expect ASCII. A gateway reading GSM-7 as Latin-1 turns `@`
    # into `¡` (GSM 0x00/0x40 mix-up). Letters and accents pass untouched (names, places).
    chars: list[str] = []
    for char in value:
        if char.isascii():
            chars.append(char)
        elif unicodedata.category(char) == "Nd":
            chars.append(str(unicodedata.digit(char)))
        elif _FULL_WIDTH_FIRST <= char <= _FULL_WIDTH_LAST:
            chars.append(chr(ord(char) - _FULL_WIDTH_OFFSET))
        else:
            chars.append(_LOOK_ALIKES.get(char, char))
    return "".join(chars)
