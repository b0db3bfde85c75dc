"""Production refuses to start without its secrets, and says everything missing at once."""

from __future__ import annotations

import pytest

from gateway.config import ConfigError, Settings

COMPLETE = {
    "GUICHET_ENV": "production",
    "USSD_CALLBACK_TOKEN": "u" * 24,
    "SMS_CALLBACK_TOKEN": "s" * 24,
    "PAYMENT_CALLBACK_TOKEN": "p" * 24,
    "RECEIPT_KEY": "r" * 32,
    "OTP_KEY": "o" * 32,
    "API_KEYS": "agent-1:agent:" + "0" * 64,
}
REQUIRED = [name for name in COMPLETE if name != "GUICHET_ENV"]


def test_one_error_lists_every_missing_secret() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"GUICHET_ENV": "production", "SMS_PROVIDER": "africastalking"})
    message = str(refused.value)
    for name in [*REQUIRED, "AT_API_KEY"]:
        assert f"{name} is missing" in message
    assert message.count("is missing") == len(REQUIRED) + 1


@pytest.mark.parametrize("name", REQUIRED)
def test_each_secret_is_required(name: str) -> None:
    with pytest.raises(ConfigError, match=name) as refused:
        Settings.from_env({key: value for key, value in COMPLETE.items() if key != name})
    assert str(refused.value).count("is missing") == 1


def test_complete_production_settings_start() -> None:
    settings = Settings.from_env(COMPLETE)
    assert settings.production_problems() == []


def test_weak_tokens_and_development_shortcuts_are_refused() -> None:
    env = {
        **COMPLETE,
        "SMS_CALLBACK_TOKEN": "short",
        "USSD_CALLBACK_TOKEN": "has/a/slash-0123456789",
        "GUICHET_EMULATE_REDIS": "1",
    }
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    message = str(refused.value)
    assert "SMS_CALLBACK_TOKEN is shorter than 16" in message
    assert "USSD_CALLBACK_TOKEN must use only" in message
    assert "GUICHET_EMULATE_REDIS" in message
    assert "short" not in message.replace("shorter", "")  # values are never echoed


def test_development_starts_without_any_secret() -> None:
    assert Settings.from_env({}).env == "development"


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
