from __future__ import annotations

import pytest

from gateway.config import ConfigError, Settings


def test_production_refuses_africastalking_without_a_key() -> None:
    env = {"GUICHET_ENV": "production", "SMS_PROVIDER": "africastalking", "OTP_KEY": "k" * 32}
    with pytest.raises(ConfigError, match="AT_API_KEY"):
        Settings.from_env(env)
    # With the key, whatever production may still refuse is not about SMS.
    try:
        Settings.from_env({**env, "AT_API_KEY": "live-key"})
    except ConfigError as refused:
        assert "AT_API_KEY" not in str(refused) and "OTP_KEY" not in str(refused)


def test_production_refuses_to_run_without_an_otp_key() -> None:
    with pytest.raises(ConfigError, match="OTP_KEY"):
        Settings.from_env({"GUICHET_ENV": "production"})


def test_unknown_provider_is_refused() -> None:
    with pytest.raises(ConfigError, match="SMS_PROVIDER"):
        Settings.from_env({"SMS_PROVIDER": "carrier-pigeon"})
