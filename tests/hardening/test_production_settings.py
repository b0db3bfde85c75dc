"""Production refuses to start without its secrets or on play money, and says everything at once."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import field, fields
from typing import Any

import pytest

from gateway.config import ConfigError, Settings, not_live_reason

# A configuration production accepts: real SMS, a real payment rail, every secret its own.
COMPLETE = {
    "GUICHET_ENV": "production",
    "USSD_CALLBACK_TOKEN": "u" * 24,
    "SMS_CALLBACK_TOKEN": "s" * 24,
    "PAYMENT_CALLBACK_TOKEN": "p" * 24,
    "RECEIPT_KEY": "r" * 32,
    "OTP_KEY": "o" * 32,
    "API_KEYS": "agent-1:agent:" + "0" * 64,
    "PUBLIC_BASE_URL": "https://guichet.goma.cd",
    "PAYMENT_OPERATORS": "mpesa:daraja",
    "DARAJA_BASE_URL": "https://api.safaricom.co.ke",
    "DARAJA_CONSUMER_KEY": "consumer-key-0123456789",
    "DARAJA_CONSUMER_SECRET": "consumer-secret-0123456789",
    "DARAJA_SHORTCODE": "174379",
    "DARAJA_PASSKEY": "passkey-0123456789abcdef",
    "SMS_PROVIDER": "africastalking",
    "AT_USERNAME": "goma",
    "AT_API_KEY": "atkey-0123456789abcdef",
    "SIMULATOR_ENABLED": "0",
    "METRICS_TOKEN": "m" * 24,
    # A Fernet key of this city (32 url-safe base64 bytes), not the development one.
    "PERSONAL_DATA_KEYS": "cGVyc29uYWwtZGF0YS1rZXktb2YtdGhlLXRlc3RzISE=",
}
REQUIRED = ["USSD_CALLBACK_TOKEN", "SMS_CALLBACK_TOKEN", "PAYMENT_CALLBACK_TOKEN", "RECEIPT_KEY",
            "OTP_KEY", "API_KEYS", "PUBLIC_BASE_URL"]  # fmt: skip


def refused(env: dict[str, str]) -> str:
    """Return production's refusal message for `env` (fails when it starts)."""
    with pytest.raises(ConfigError) as error:
        Settings.from_env(env)
    return str(error.value)


def test_one_error_lists_every_missing_secret() -> None:
    message = refused({"GUICHET_ENV": "production", "SMS_PROVIDER": "africastalking"})
    for name in [*REQUIRED, "AT_API_KEY"]:
        assert f"{name} is missing" in message
    assert message.count("is missing") == len(REQUIRED) + 1


@pytest.mark.parametrize("name", REQUIRED)
def test_each_secret_is_required(name: str) -> None:
    message = refused({key: value for key, value in COMPLETE.items() if key != name})
    assert name in message
    assert message.count("is missing") == 1


def test_complete_production_settings_start() -> None:
    settings = Settings.from_env(COMPLETE)
    assert settings.production_problems() == []
    assert settings.play_money() == []


def test_weak_tokens_and_development_shortcuts_are_refused() -> None:
    env = {
        **COMPLETE,
        "SMS_CALLBACK_TOKEN": "short",
        "USSD_CALLBACK_TOKEN": "has/a/slash-0123456789",
        "GUICHET_EMULATE_REDIS": "1",
    }
    message = refused(env)
    assert "SMS_CALLBACK_TOKEN is shorter than 16" in message
    assert "USSD_CALLBACK_TOKEN must use only" in message
    assert "GUICHET_EMULATE_REDIS" in message
    assert "short" not in message.replace("shorter", "")  # values are never echoed


DEMO_AGENT = "ops:agent:" + hashlib.sha256(b"demo-agent-key").hexdigest()
DEMO_PORTAL = "ops2:portal:" + hashlib.sha256(b"demo-portal-key").hexdigest()

# One play-money setting at a time, and the words its refusal must carry.
PLAY_MONEY = {
    "sandbox provider": (
        {"PAYMENT_OPERATORS": "mpesa:daraja,airtel:sandbox"},
        ["PAYMENT_OPERATORS", "airtel:sandbox", "sandbox provider"],
    ),
    "console SMS": ({"SMS_PROVIDER": "console"}, ["SMS_PROVIDER", "console"]),
    "AT sandbox username on the live URL": (
        {"AT_USERNAME": "sandbox"},
        ["AT_USERNAME", "sandbox", "live AT_API_BASE_URL"],
    ),
    "AT live username on the sandbox URL": (
        {"AT_API_BASE_URL": "https://api.sandbox.africastalking.com"},
        ["AT_USERNAME", "'goma'", "sandbox URL", "AT_API_BASE_URL points at api.sandbox"],
    ),
    "demo agent key": ({"API_KEYS": DEMO_AGENT}, ["API_KEYS", "ops is a demo key"]),
    "demo portal key": ({"API_KEYS": DEMO_PORTAL}, ["API_KEYS", "ops2 is a demo key"]),
    "demo account": (
        {"API_KEYS": "demo-agent:agent:" + "1" * 64},
        ["API_KEYS", "demo-agent is a demo account"],
    ),
    "simulator": ({"SIMULATOR_ENABLED": "1"}, ["SIMULATOR_ENABLED"]),
    "callback tokens reused": (
        {"SMS_CALLBACK_TOKEN": "u" * 24, "PAYMENT_CALLBACK_TOKEN": "u" * 24},
        [
            "USSD_CALLBACK_TOKEN and SMS_CALLBACK_TOKEN and PAYMENT_CALLBACK_TOKEN",
            "one value for 3 secrets",
        ],
    ),
    "receipt key reused as OTP key": (
        {"OTP_KEY": "r" * 32},
        ["OTP_KEY and RECEIPT_KEY: one value for 2 secrets"],
    ),
    "log key reused as provider secret": (
        {"LOG_REF_KEY": "consumer-secret-0123456789"},
        ["LOG_REF_KEY and DARAJA_CONSUMER_SECRET"],
    ),
    "fake Daraja on loopback": (
        {"DARAJA_BASE_URL": "http://127.0.0.1:8091"},
        ["DARAJA_BASE_URL points at 127.0.0.1"],
    ),
    "Daraja sandbox": (
        {"DARAJA_BASE_URL": "https://sandbox.safaricom.co.ke"},
        ["DARAJA_BASE_URL points at sandbox.safaricom.co.ke, a test system"],
    ),
    "fake AT on localhost": (
        {"AT_API_BASE_URL": "http://localhost:8090"},
        ["AT_API_BASE_URL points at localhost"],
    ),
    "our callbacks on this machine": (
        {"PUBLIC_BASE_URL": "http://127.0.0.1:8000"},
        ["PUBLIC_BASE_URL points at 127.0.0.1"],
    ),
}


@pytest.mark.parametrize("case", PLAY_MONEY, ids=list(PLAY_MONEY))
def test_production_refuses_each_kind_of_play_money(case: str) -> None:
    overrides, words = PLAY_MONEY[case]
    message = refused({**COMPLETE, **overrides})
    for word in words:
        assert word in message
    for value in overrides.values():
        if len(value) >= 16 and not value.startswith("http"):
            assert value not in message  # secrets are named, never echoed


def test_every_kind_of_play_money_in_one_message() -> None:
    env: dict[str, str] = {}
    for overrides, _words in PLAY_MONEY.values():
        env.update(overrides)
    # Console SMS leaves Africa's Talking unused, and the two AT cases contradict each other:
    # keep AT on its sandbox URL with the live username (the console case is tested alone).
    env.pop("AT_USERNAME")
    env.pop("SMS_PROVIDER")
    env["AT_API_BASE_URL"] = "https://api.sandbox.africastalking.com"
    env["API_KEYS"] = f"{DEMO_AGENT},{DEMO_PORTAL}"
    message = refused({**COMPLETE, **env, "GUICHET_EMULATE_REDIS": "1"})
    for setting in ("PAYMENT_OPERATORS", "AT_USERNAME", "API_KEYS", "SIMULATOR_ENABLED",
                    "one value for", "DARAJA_BASE_URL", "AT_API_BASE_URL", "PUBLIC_BASE_URL",
                    "GUICHET_EMULATE_REDIS"):  # fmt: skip
        assert setting in message
    assert message.startswith("production refuses to start: ")
    assert message.count("ConfigError") == 0


def test_an_unused_providers_sandbox_default_is_not_refused() -> None:
    # DARAJA_BASE_URL defaults to Safaricom's sandbox: irrelevant when no operator uses Daraja.
    env = {**COMPLETE, "PAYMENT_OPERATORS": "mpesa:vodacom"}
    del env["DARAJA_BASE_URL"]
    settings = Settings.from_env({**env, "GUICHET_ENV": "development"})
    assert not any("DARAJA" in line for line in settings.production_problems())
    assert settings.in_use("VODACOM_BASE_URL")
    assert not settings.in_use("DARAJA_BASE_URL")
    assert not settings.in_use("AIRTEL_BASE_URL")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9000/airtel", "this machine"),
        ("http://[::1]:9000", "this machine"),
        ("http://0.0.0.0:9000", "this machine"),
        ("https://openapiuat.airtel.africa", "test system"),
        ("https://openapi.m-pesa.com/sandbox/ipg/v2/vodacomDRC", "test path /sandbox/"),
        ("https://api.orange.com/orange-money-webpay/dev/v1", "test path /dev/"),
        ("http://fake-airtel:8080", "test system"),
        ("not a url", "not an absolute URL"),
    ],
)
def test_loopback_fake_and_sandbox_urls_are_named(url: str, why: str) -> None:
    reason = not_live_reason(url)
    assert reason is not None and why in reason


@pytest.mark.parametrize(
    "url",
    [
        "https://openapi.airtel.africa",
        "https://openapi.m-pesa.com/openapi/ipg/v2/vodacomDRC",
        "https://paygateglobal.com",
        "https://api.africastalking.com",
        "https://portal.mairie-goma.cd/api",
        "http://10.1.2.3:8443",  # a city portal on the city's private network
    ],
)
def test_live_urls_pass(url: str) -> None:
    assert not_live_reason(url) is None


def test_development_starts_without_any_secret_and_lists_its_play_money() -> None:
    settings = Settings.from_env({})
    assert settings.env == "development"
    play = "\n".join(settings.play_money())
    for setting in ("PAYMENT_OPERATORS", "SMS_PROVIDER", "API_KEYS", "SIMULATOR_ENABLED"):
        assert setting in play


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("RATE_API_PER_IP", "lots"),
        ("RATE_USSD_HOPS", "10/0"),
        ("SMS_CALLBACK_CIDRS", "10.0.0.0/33"),
        ("TRUSTED_PROXIES", "proxy.local"),
        ("MAX_REQUEST_BYTES", "10"),
    ],
)
def test_malformed_security_settings_are_refused(env: str, value: str) -> None:
    with pytest.raises(ConfigError, match=env):
        Settings.from_env({env: value})


def _adapter_setting(env: str) -> Any:
    # What an adapter adds to gateway.config.Settings: a field with its env var, nothing else.
    return field(default="", metadata={"env": env, "doc": env, "secret": None})


# Adapter settings the test names; those an adapter already declared are used as they are,
# the others are added the way an adapter adds them, so the check is proven generic either way.
ADAPTER_SETTINGS = {
    "airtel_base_url": "AIRTEL_BASE_URL",
    "airtel_client_secret": "AIRTEL_CLIENT_SECRET",
    "airtel_callback_secret": "AIRTEL_CALLBACK_SECRET",
    "vodacom_environment": "VODACOM_ENVIRONMENT",
    "vodacom_public_key": "VODACOM_PUBLIC_KEY",
    "paygate_base_url": "PAYGATE_BASE_URL",
    "paygate_auth_token": "PAYGATE_AUTH_TOKEN",
}
_declared = {f.name for f in fields(Settings)}
WithAdapters = dataclasses.make_dataclass(
    "WithAdapters",
    [
        (name, str, _adapter_setting(env))
        for name, env in ADAPTER_SETTINGS.items()
        if name not in _declared
    ],
    bases=(Settings,),
    frozen=True,
    slots=True,
)


def test_adapter_settings_are_checked_by_name_without_rules_of_their_own() -> None:
    live = Settings.from_env(COMPLETE)
    base = {
        f.name: getattr(live, f.name) for f in fields(Settings) if f.name not in ADAPTER_SETTINGS
    }
    settings = WithAdapters(
        **{
            **base,
            "payment_operators": "airtel:airtel,mpesa:vodacom",
            # Real adapters' own settings, set live so only the ones named below are wrong.
            **({"airtel_client_id": "guichet-app"} if "airtel_client_id" in base else {}),
            **(
                {"vodacom_base_url": "https://openapi.m-pesa.com/openapi"}
                if "vodacom_base_url" in base
                else {}
            ),
        },
        airtel_base_url="https://openapiuat.airtel.africa",
        airtel_client_secret="o" * 32,  # OTP_KEY's value
        airtel_callback_secret="a" * 32,
        vodacom_environment="sandbox",
        vodacom_public_key="MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEA",
        paygate_base_url="http://127.0.0.1:9100",  # PayGate is not configured: not checked
        paygate_auth_token="a" * 32,  # ...but its secret still may not repeat another
    )
    problems = settings.production_problems()
    assert "AIRTEL_BASE_URL points at openapiuat.airtel.africa, a test system" in problems
    assert "OTP_KEY and AIRTEL_CLIENT_SECRET: one value for 2 secrets (each needs its own)" in (
        problems
    )
    assert "AIRTEL_CALLBACK_SECRET and PAYGATE_AUTH_TOKEN: one value for 2 secrets" in " ".join(
        problems
    )
    assert "VODACOM_ENVIRONMENT: sandbox selects the provider's test system" in problems
    assert not any("PAYGATE_BASE_URL" in line or "PUBLIC_KEY" in line for line in problems)
    assert len(problems) == 4
    live_ones = dataclasses.replace(
        settings,
        airtel_base_url="https://openapi.airtel.africa",
        airtel_client_secret="c" * 32,
        airtel_callback_secret="d" * 32,
        vodacom_environment="openapi",
    )
    assert live_ones.production_problems() == []
