"""Settings: embedded defaults, then the environment, then an explicit mapping (tests).

Every setting is one field with its environment variable and default beside it; the README's
configuration table is checked against this list by a test.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Environment = Literal["development", "production"]


class ConfigError(ValueError):
    """A setting is missing or malformed; the process must not start."""


def _setting(env: str, default: Any, doc: str) -> Any:
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a Guichet process can be told from outside."""

    env: Environment = _setting(
        "GUICHET_ENV",
        "development",
        "development or production (production refuses unsafe defaults)",
    )
    redis_url: str = _setting("REDIS_URL", "redis://127.0.0.1:6379/0", "sessions, queues, limits")
    redis_socket_timeout: float = _setting(
        "REDIS_SOCKET_TIMEOUT", 0.5, "seconds before a Redis call is abandoned"
    )
    emulate_redis: bool = _setting(
        "GUICHET_EMULATE_REDIS", False, "in-process Redis emulation, jobs run inline (dev only)"
    )
    database_url: str = _setting(
        "DATABASE_URL", "sqlite:///var/guichet.db", "civic back office (SQLite or PostgreSQL)"
    )
    menus_path: str = _setting("MENUS_PATH", "menus.yaml", "the city's menus, texts and templates")
    ussd_session_ttl_seconds: int = _setting(
        "USSD_SESSION_TTL_SECONDS", 0, "USSD session lifetime in Redis; 0 = menus.yaml settings"
    )
    ussd_lock_wait_seconds: float = _setting(
        "USSD_LOCK_WAIT_SECONDS", 2.0, "how long a hop waits for a concurrent hop of its session"
    )
    log_level: str = _setting("LOG_LEVEL", "INFO", "root log level")
    api_keys: str = _setting(
        "API_KEYS",
        "",
        "comma-separated id:scope:sha256hex entries (`python -m gateway hash-key`); "
        "development falls back to the demo keys demo-agent-key and demo-portal-key",
    )
    # --- SMS (sms/) ---
    sms_provider: str = _setting(
        "SMS_PROVIDER", "console", "console (prints and records SMS) or africastalking"
    )
    at_username: str = _setting("AT_USERNAME", "sandbox", "Africa's Talking account username")
    at_api_key: str = _setting(
        "AT_API_KEY", "", "Africa's Talking API key (required in production with africastalking)"
    )
    at_sender_id: str = _setting("AT_SENDER_ID", "", "alphanumeric sender id or short code")
    at_api_base_url: str = _setting(
        "AT_API_BASE_URL",
        "https://api.africastalking.com",
        "AT API root (sandbox: https://api.sandbox.africastalking.com; dev: the fake server)",
    )
    at_timeout_seconds: float = _setting(
        "AT_TIMEOUT_SECONDS", 10.0, "HTTP timeout of one call to the AT SMS API"
    )
    sms_allowed_countries: str = _setting(
        "SMS_ALLOWED_COUNTRIES", "", "comma-separated ISO regions we send to (default: the city's)"
    )
    sms_daily_budget: int = _setting(
        "SMS_DAILY_BUDGET", 20, "non-OTP SMS per phone per day, beyond which sends are refused"
    )
    sms_replies_per_hour: int = _setting(
        "SMS_REPLIES_PER_HOUR", 10, "replies to inbound SMS per phone per hour"
    )
    sms_retry_delays: str = _setting(
        "SMS_RETRY_DELAYS", "10,60,300,900", "seconds between retries of a transient failure"
    )
    sms_hold_seconds: int = _setting(
        "SMS_HOLD_SECONDS", 900, "pause after an account-level hold (RiskHold, low balance)"
    )
    sms_templates_path: str = _setting(
        "SMS_TEMPLATES_PATH", "sms_templates.yaml", "the SMS templates (fr, en, sw)"
    )
    otp_key: str = _setting(
        "OTP_KEY", "", "HMAC key for stored OTPs (required in production; dev derives one)"
    )
    sms_callback_token: str = _setting(
        "SMS_CALLBACK_TOKEN", "", "when set, SMS callbacks must carry ?token=<this>"
    )
    # --- payments (payments/) ---
    payment_operators: str = _setting(
        "PAYMENT_OPERATORS",
        "mpesa:sandbox,airtel:sandbox,orange:sandbox",
        "operator:provider pairs in menu order (providers: sandbox, daraja)",
    )
    payment_push_delay_seconds: float = _setting(
        "PAYMENT_PUSH_DELAY_SECONDS", 5.0, "wait after the USSD END before the payment push"
    )
    payment_intent_ttl_seconds: float = _setting(
        "PAYMENT_INTENT_TTL_SECONDS", 600.0, "an unanswered payment intent expires after this"
    )
    payment_reconcile_after_seconds: float = _setting(
        "PAYMENT_RECONCILE_AFTER_SECONDS", 60.0, "query the provider for intents quiet this long"
    )
    payment_reconcile_interval_seconds: float = _setting(
        "PAYMENT_RECONCILE_INTERVAL_SECONDS",
        60.0,
        "period of the reconciliation job (0: off, run `python -m payments reconcile` from cron)",
    )
    payment_callback_token: str = _setting(
        "PAYMENT_CALLBACK_TOKEN",
        "",
        "secret in payment callback URLs (required in production; dev accepts any when unset)",
    )
    public_base_url: str = _setting(
        "PUBLIC_BASE_URL", "", "our URL as providers reach it (default http://127.0.0.1:$PORT)"
    )
    receipt_key: str = _setting(
        "RECEIPT_KEY", "", "city key of receipt-code HMACs, >= 16 bytes (required in production)"
    )
    sandbox_callback_delay_seconds: float = _setting(
        "SANDBOX_CALLBACK_DELAY_SECONDS", 3.0, "sandbox provider: wait before its callback"
    )
    daraja_base_url: str = _setting(
        "DARAJA_BASE_URL", "https://sandbox.safaricom.co.ke", "M-Pesa Daraja API root"
    )
    daraja_consumer_key: str = _setting("DARAJA_CONSUMER_KEY", "", "Daraja app consumer key")
    daraja_consumer_secret: str = _setting(
        "DARAJA_CONSUMER_SECRET", "", "Daraja app consumer secret"
    )
    daraja_shortcode: str = _setting("DARAJA_SHORTCODE", "", "Lipa na M-Pesa paybill short code")
    daraja_passkey: str = _setting("DARAJA_PASSKEY", "", "Lipa na M-Pesa Online passkey")
    daraja_timeout_seconds: float = _setting(
        "DARAJA_TIMEOUT_SECONDS", 10.0, "HTTP timeout of one Daraja call"
    )
    # --- simulator (gateway/simulator/) ---
    simulator_enabled: bool = _setting(
        "SIMULATOR_ENABLED", True, "serve the phone simulator at /simulator (never in production)"
    )
    # --- civic back office (civic/) ---
    civic_backend: str = _setting(
        "CIVIC_BACKEND", "sql", "sql (DATABASE_URL) or http (the city's portal at CIVIC_PORTAL_URL)"
    )
    civic_portal_url: str = _setting(
        "CIVIC_PORTAL_URL", "", "city portal API root (docs/openapi/city-portal.yaml)"
    )
    civic_portal_token: str = _setting(
        "CIVIC_PORTAL_TOKEN", "", "bearer token Guichet presents to the city portal"
    )
    civic_connect_timeout: float = _setting(
        "CIVIC_CONNECT_TIMEOUT", 1.0, "seconds to connect to the back office (portal or database)"
    )
    civic_read_timeout: float = _setting(
        "CIVIC_READ_TIMEOUT", 3.0, "seconds a back-office answer or SQL statement may take"
    )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Build settings from defaults, `environ` (os.environ by default), then `overrides`."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.name, f.type, raw)
        for name, value in (overrides or {}).items():
            if name not in {f.name for f in dataclasses.fields(cls)}:
                raise ConfigError(f"unknown setting {name!r}")
            values[name] = value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse values that cannot work."""
        if self.env not in get_args(Environment):
            raise ConfigError(f"GUICHET_ENV must be development or production, not {self.env!r}")
        if self.env == "production" and self.emulate_redis:
            raise ConfigError("GUICHET_EMULATE_REDIS is for development only")
        if self.sms_provider not in {"console", "africastalking"}:
            raise ConfigError(
                f"SMS_PROVIDER must be console or africastalking, not {self.sms_provider!r}"
            )
        if (
            self.env == "production"
            and self.sms_provider == "africastalking"
            and not self.at_api_key
        ):
            raise ConfigError("SMS_PROVIDER=africastalking needs AT_API_KEY in production")
        if self.env == "production" and not self.otp_key:
            raise ConfigError("OTP_KEY is required in production")
        if self.env == "production" and not (self.receipt_key and self.payment_callback_token):
            raise ConfigError("RECEIPT_KEY and PAYMENT_CALLBACK_TOKEN are required in production")
        if self.civic_backend not in {"sql", "http"}:
            raise ConfigError(f"CIVIC_BACKEND must be sql or http, not {self.civic_backend!r}")
        if self.civic_backend == "http" and not self.civic_portal_url:
            raise ConfigError("CIVIC_BACKEND=http needs CIVIC_PORTAL_URL")

    @classmethod
    def documented(cls) -> list[tuple[str, str, str]]:
        """Return (env var, default, meaning) for every setting, for the README."""
        return [
            (f.metadata["env"], str(f.default), f.metadata["doc"]) for f in dataclasses.fields(cls)
        ]


def _coerce(name: str, kind: Any, raw: str) -> Any:
    kind = str(kind)
    try:
        if kind == "bool":
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(f"setting {name}: cannot read {raw!r} as {kind}") from None
    return raw
