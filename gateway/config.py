"""Settings: embedded defaults, then the environment, then an explicit mapping (tests).

Every setting is one field with its environment variable and default beside it; the README's
configuration table is checked against this list by a test.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any, Final, Literal, get_args

from runtime.ratelimit import Rate, RateError

Environment = Literal["development", "production"]
# Tokens and keys shorter than this are guessable from a log of failed attempts.
MIN_SECRET_CHARS: Final = 16
_URL_SAFE: Final = re.compile(r"[A-Za-z0-9._~-]+")


class ConfigError(ValueError):
    """A setting is missing or malformed; the process must not start."""


def networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Parse a comma-separated list of CIDRs or addresses; raise ValueError on a bad one."""
    return tuple(ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


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
    ussd_events_max: int = _setting(
        "USSD_EVENTS_MAX", 200000, "end-of-session events kept in Redis for the funnel report"
    )
    ussd_lock_wait_seconds: float = _setting(
        "USSD_LOCK_WAIT_SECONDS", 2.0, "how long a hop waits for a concurrent hop of its session"
    )
    log_level: str = _setting("LOG_LEVEL", "INFO", "root log level")
    metrics_flush_seconds: float = _setting(
        "METRICS_FLUSH_SECONDS",
        5.0,
        "how often a process adds its counters to Redis (0: at scrape)",
    )
    log_ref_key: str = _setting(
        "LOG_REF_KEY",
        "",
        "key of the phone_ref hash in logs and USSD events (default: from OTP_KEY)",
    )
    api_keys: str = _setting(
        "API_KEYS",
        "",
        "comma-separated id:scope:sha256hex entries (`python -m gateway hash-key`); "
        "development falls back to the demo keys demo-agent-key and demo-portal-key",
    )
    # --- security (gateway/callback_auth.py, runtime/ratelimit.py) ---
    ussd_callback_token: str = _setting(
        "USSD_CALLBACK_TOKEN",
        "",
        "secret in USSD callback URLs (required in production; dev accepts any when unset)",
    )
    ussd_callback_cidrs: str = _setting(
        "USSD_CALLBACK_CIDRS", "", "comma-separated networks allowed to call USSD URLs (any)"
    )
    sms_callback_cidrs: str = _setting(
        "SMS_CALLBACK_CIDRS", "", "comma-separated networks allowed to call SMS URLs (any)"
    )
    payment_callback_cidrs: str = _setting(
        "PAYMENT_CALLBACK_CIDRS", "", "comma-separated networks allowed to call payment URLs"
    )
    trusted_proxies: str = _setting(
        "TRUSTED_PROXIES",
        "",
        "comma-separated networks of our reverse proxies; only they may set PROXY_CLIENT_HEADER",
    )
    proxy_client_header: str = _setting(
        "PROXY_CLIENT_HEADER", "X-Forwarded-For", "header a trusted proxy puts the client IP in"
    )
    max_request_bytes: int = _setting(
        "MAX_REQUEST_BYTES", 65536, "larger request bodies are refused (413) before any parsing"
    )
    rate_ussd_hops: str = _setting(
        "RATE_USSD_HOPS", "30/60", "USSD hops per phone: count/seconds or off (fails open)"
    )
    rate_sms_inbound: str = _setting(
        "RATE_SMS_INBOUND", "30/3600", "inbound SMS kept per phone: count/seconds (fails closed)"
    )
    rate_otp_sends: str = _setting(
        "RATE_OTP_SENDS", "6/3600", "OTP codes sent per phone, all purposes (fails closed)"
    )
    rate_api_per_ip: str = _setting(
        "RATE_API_PER_IP", "300/60", "JSON API requests per client IP (fails open)"
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
    sms_sending_lease_seconds: float = _setting(
        "SMS_SENDING_LEASE_SECONDS",
        60.0,
        "a message `sending` longer than this (and 3x AT_TIMEOUT_SECONDS) lost its worker",
    )
    sms_sweep_seconds: float = _setting(
        "SMS_SWEEP_SECONDS",
        60.0,
        "period of the sweep re-enqueuing messages overdue by this long (0: off)",
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
        "SMS_CALLBACK_TOKEN",
        "",
        "secret in SMS callback URLs (required in production; dev accepts any when unset)",
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
    request_payment_ttl: float = _setting(
        "REQUEST_PAYMENT_TTL",
        86400.0,
        "seconds a document request waits for its fee before it expires (with an SMS)",
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
        """Refuse values that cannot work; production names every missing secret at once."""
        if self.env not in get_args(Environment):
            raise ConfigError(f"GUICHET_ENV must be development or production, not {self.env!r}")
        if self.sms_provider not in {"console", "africastalking"}:
            raise ConfigError(
                f"SMS_PROVIDER must be console or africastalking, not {self.sms_provider!r}"
            )
        if self.civic_backend not in {"sql", "http"}:
            raise ConfigError(f"CIVIC_BACKEND must be sql or http, not {self.civic_backend!r}")
        if self.civic_backend == "http" and not self.civic_portal_url:
            raise ConfigError("CIVIC_BACKEND=http needs CIVIC_PORTAL_URL")
        for name in ("rate_ussd_hops", "rate_sms_inbound", "rate_otp_sends", "rate_api_per_ip"):
            try:
                Rate.parse(getattr(self, name))
            except RateError as error:
                raise ConfigError(f"{name.upper()}: {error}") from None
        for name in (
            "ussd_callback_cidrs",
            "sms_callback_cidrs",
            "payment_callback_cidrs",
            "trusted_proxies",
        ):
            try:
                networks(getattr(self, name))
            except ValueError as error:
                raise ConfigError(f"{name.upper()}: {error}") from None
        if self.max_request_bytes < 1024:
            raise ConfigError("MAX_REQUEST_BYTES must be at least 1024")
        if self.env == "production":
            problems = self.production_problems()
            if problems:
                raise ConfigError(
                    "production refuses to start: " + "; ".join(problems) + " (README: Security)"
                )

    def production_problems(self) -> list[str]:
        """Return one line per secret or unsafe default production must not run with."""
        problems: list[str] = []
        secrets = {
            "USSD_CALLBACK_TOKEN": self.ussd_callback_token,
            "SMS_CALLBACK_TOKEN": self.sms_callback_token,
            "PAYMENT_CALLBACK_TOKEN": self.payment_callback_token,
            "RECEIPT_KEY": self.receipt_key,
            "OTP_KEY": self.otp_key,
        }
        if self.sms_provider == "africastalking":
            secrets["AT_API_KEY"] = self.at_api_key
        for env, value in secrets.items():
            if not value:
                problems.append(f"{env} is missing")
            elif len(value) < MIN_SECRET_CHARS and env != "AT_API_KEY":
                problems.append(f"{env} is shorter than {MIN_SECRET_CHARS} characters")
            elif env.endswith("_TOKEN") and not _URL_SAFE.fullmatch(value):
                problems.append(f"{env} must use only A-Z a-z 0-9 . _ ~ - (it sits in URLs)")
        if not self.api_keys.strip():
            problems.append("API_KEYS is missing (`python -m gateway hash-key`)")
        if self.emulate_redis:
            problems.append("GUICHET_EMULATE_REDIS is for development only")
        return problems

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
