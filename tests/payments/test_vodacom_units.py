"""Vodacom M-Pesa OpenAPI pieces: the RSA bearer round trip, settings checks, INS mapping,
async result parsing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from fakes.vodacom import FakeVodacom
from gateway.config import Settings
from payments.config import PaymentConfigError
from payments.model import FailureReason
from payments.providers.base import CallbackParseError
from payments.providers.vodacom import (
    VodacomProvider,
    acknowledgement,
    bearer_value,
    load_public_key,
    reason_for,
)
from payments.wiring import vodacom_config


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVodacom]:
    """Yield a fake; only its key pair is used."""
    server = FakeVodacom().start()
    yield server
    server.stop()


def test_the_bearer_round_trips_through_the_portal_key(fake: FakeVodacom) -> None:
    key = load_public_key(fake.public_key)
    first = bearer_value(key, "my-api-key")
    second = bearer_value(key, "my-api-key")
    assert first != second  # PKCS#1 v1.5 pads at random: never a replayable constant
    assert fake.decrypt(first) == fake.decrypt(second) == "my-api-key"
    assert fake.decrypt(first[:-8] + "AAAAAAA=") is None


def test_a_pem_armoured_key_is_accepted(fake: FakeVodacom) -> None:
    pem = f"-----BEGIN PUBLIC KEY-----\n{fake.public_key}\n-----END PUBLIC KEY-----\n"
    assert fake.decrypt(bearer_value(load_public_key(pem), "x")) == "x"


@pytest.mark.parametrize("text", ["", "not base64!", "QUJD"])
def test_a_bad_public_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="public key"):
        load_public_key(text)


def settings(fake: FakeVodacom, **overrides: Any) -> Settings:
    return Settings.from_env(
        {},
        {
            "vodacom_api_key": "key",
            "vodacom_public_key": fake.public_key,
            "vodacom_service_provider_code": "000000",
            **overrides,
        },
    )


def test_the_default_settings_are_drc_in_usd(fake: FakeVodacom) -> None:
    config = vodacom_config(settings(fake))
    assert (config.market, config.country, config.currency) == ("vodacomDRC", "DRC", "USD")
    assert config.url("getSession") == (
        "https://openapi.m-pesa.com/sandbox/ipg/v2/vodacomDRC/getSession/"
    )
    assert VodacomProvider(config).job_timeout_seconds() > config.push_timeout_seconds + 30


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"vodacom_api_key": ""}, "VODACOM_API_KEY"),
        ({"vodacom_market": "vodacomXYZ"}, "VODACOM_MARKET"),
        ({"vodacom_country": "TZN"}, "VODACOM_COUNTRY must be DRC"),
        ({"vodacom_currency": "CDF"}, "VODACOM_ALLOW_CDF"),
        ({"vodacom_currency": "EUR"}, "not taken"),
        (
            {"vodacom_market": "vodacomTZN", "vodacom_country": "TZN", "vodacom_currency": "USD"},
            "not taken",
        ),
    ],
)
def test_unworkable_settings_refuse_to_start(
    fake: FakeVodacom, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(PaymentConfigError, match=message):
        vodacom_config(settings(fake, **overrides))


def test_cdf_only_when_the_operator_confirmed_it(fake: FakeVodacom) -> None:
    config = vodacom_config(settings(fake, vodacom_currency="CDF", vodacom_allow_cdf=True))
    assert config.currency == "CDF"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("INS-5", FailureReason.CANCELLED),
        ("INS-2006", FailureReason.INSUFFICIENT_FUNDS),
        ("INS-2051", FailureReason.INVALID_NUMBER),
        ("INS-1", FailureReason.OTHER),
        ("INS-6", FailureReason.OTHER),
        ("INS-9999", FailureReason.OTHER),
    ],
)
def test_ins_codes_map_to_reasons(code: str, reason: FailureReason) -> None:
    assert reason_for(code) is reason


def test_an_async_result_parses_and_is_acknowledged(fake: FakeVodacom) -> None:
    provider = VodacomProvider(vodacom_config(settings(fake)))
    body = {
        "input_OriginalConversationID": "abc123",
        "input_TransactionID": "TX1",
        "input_ResultCode": "INS-2006",
        "input_ResultDesc": "Insufficient balance",
        "input_ThirdPartyConversationID": "intent1",
    }
    event = provider.parse_callback(json.dumps(body), {"intent": "i-1"})
    assert not event.succeeded and event.reason is FailureReason.INSUFFICIENT_FUNDS
    assert (event.intent_id, event.provider_reference) == ("i-1", "intent1")
    ok = provider.parse_callback(json.dumps({**body, "input_ResultCode": "INS-0"}), {})
    assert ok.succeeded and ok.provider_receipt == "TX1" and ok.amount is None
    assert acknowledgement(json.dumps(body)) == {
        "output_OriginalConversationID": "abc123",
        "output_ResponseCode": "0",
        "output_ResponseDesc": "Successfully Accepted Result",
        "output_ThirdPartyConversationID": "intent1",
    }


@pytest.mark.parametrize("body", ["", "[]", "{}", '{"input_ResultCode": "INS-0"}', "nope"])
def test_other_bodies_are_not_results(fake: FakeVodacom, body: str) -> None:
    provider = VodacomProvider(vodacom_config(settings(fake)))
    with pytest.raises(CallbackParseError):
        provider.parse_callback(body, {})
    assert acknowledgement(body)["output_ResponseCode"] == "0"
