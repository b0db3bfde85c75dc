"""Settings: embedded defaults, then the environment, then an explicit mapping (tests).

Every setting is one field with its environment variable and default beside it; the README's
configuration table is checked against this list by a test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any, Final, Literal, get_args
from urllib.parse import urlsplit

from gateway.redis_url import parse_redis_url
from runtime.keys import DEFAULT_PREFIX, PrefixError, check_prefix
from runtime.packs import DEFAULT_CITY, PackError, pack
from runtime.ratelimit import Rate, RateError

Environment = Literal["development", "production"]
# Tokens and keys shorter than this are guessable from a log of failed attempts.
MIN_SECRET_CHARS: Final = 16
_URL_SAFE: Final = re.compile(r"[A-Za-z0-9._~-]+")
_FIELD_NAME: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# The keys development falls back to when API_KEYS is empty (gateway.auth): published in the
# README, so production refuses them and their accounts whatever API_KEYS says.
DEMO_API_KEYS: Final = {
    "demo-agent-key": ("demo-agent", "agent"),
    "demo-portal-key": ("demo-portal", "portal"),
}
# A setting is a secret when its name ends so (or its field says `secret=True`): production
# compares every secret with every other, so a new provider's settings are covered by name.
_SECRET_SUFFIXES: Final = ("_TOKEN", "_KEY", "_KEYS", "_SECRET", "_PASSKEY", "_PASSWORD")
# URL settings of our own infrastructure: loopback is normal there (a local Redis).
_INFRASTRUCTURE_URLS: Final = frozenset({"REDIS_URL", "QUEUE_REDIS_URL", "DATABASE_URL"})
# Host labels and path segments of providers' test systems: Daraja's sandbox.safaricom.co.ke,
# api.sandbox.africastalking.com, Airtel's openapiuat.*, M-Pesa OpenAPI's /sandbox/ipg/…,
# Orange Web Payment's /orange-money-webpay/dev/ (../shared/PROVIDERS.md).
_TEST_HOST_WORDS: Final = ("sandbox", "openapiuat", "staging", "fake", "localhost")
_TEST_PATH_SEGMENTS: Final = frozenset({"sandbox", "dev", "uat", "test", "staging"})
# Prefixes of our own settings. Any other prefix (DARAJA_, AIRTEL_, VODACOM_, PAYGATE_,
# ORANGE_) belongs to a payment adapter and is in use when PAYMENT_OPERATORS names it.
_OWN_PREFIXES: Final = frozenset(
    {
        "guichet",
        "city",
        "catalogue",
        "redis",
        "queue",
        "database",
        "menus",
        "ussd",
        "log",
        "metrics",
        "api",
        "sms",
        "trusted",
        "proxy",
        "max",
        "rate",
        "otp",
        "payment",
        "receipt",
        "sandbox",
        "simulator",
        "personal",
        "retention",
        "console",
    }
)
SMS_PROVIDERS: Final = ("console", "africastalking", "twilio", "orange", "infobip")
# What production needs of each SMS provider (secrets are also length-checked).
_SMS_REQUIRED: Final = {
    "africastalking": ("AT_API_KEY",),
    "twilio": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"),
    "orange": ("ORANGE_SMS_CLIENT_ID", "ORANGE_SMS_CLIENT_SECRET", "ORANGE_SMS_SENDER"),
    "infobip": ("INFOBIP_BASE_URL", "INFOBIP_API_KEY", "INFOBIP_FROM"),
}
DEFAULT_DATABASE_URL: Final = "sqlite:///var/guichet.db"
AT_LIVE_HOST: Final = "api.africastalking.com"
AT_SANDBOX_USERNAME: Final = "sandbox"


class ConfigError(ValueError):
    """A setting is missing or malformed; the process must not start."""


def networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Parse a comma-separated list of CIDRs or addresses; raise ValueError on a bad one."""
    return tuple(ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _setting(env: str, default: Any, doc: str, *, secret: bool | None = None) -> Any:
    # secret=None: decided by the name (_SECRET_SUFFIXES); say True/False where it misleads.
    return field(default=default, metadata={"env": env, "doc": doc, "secret": secret})


def is_secret_setting(env: str, secret: bool | None = None) -> bool:
    """Return True when the setting named `env` holds a secret (by name unless told)."""
    if secret is not None:
        return secret
    return env.endswith(_SECRET_SUFFIXES) and "PUBLIC" not in env


def not_live_reason(url: str) -> str | None:
    """Say why `url` is a loopback, fake or sandbox address, or None when it looks live."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if not host:
        return "is not an absolute URL"
    try:
        address = ip_address(host)
    except ValueError:
        address = None
    # Loopback only: a city portal may well live on a private network.
    if address is not None and (address.is_loopback or address.is_unspecified):
        return f"points at {host}, this machine (a fake server)"
    labels = host.split(".")
    for word in _TEST_HOST_WORDS:
        if any(word in label for label in labels):
            return f"points at {host}, a test system"
    segments = {segment.lower() for segment in parts.path.split("/") if segment}
    found = sorted(segments & _TEST_PATH_SEGMENTS)
    if found:
        return f"uses the provider's test path /{found[0]}/"
    return None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a Guichet process can be told from outside."""

    env: Environment = _setting(
        "GUICHET_ENV",
        "development",
        "development or production (production refuses unsafe defaults)",
    )
    redis_url: str = _setting(
        "REDIS_URL",
        "redis://127.0.0.1:6379/0",
        "sessions, limits, queues: redis://, rediss://, redis+sentinel://, redis+cluster://",
    )
    queue_redis_url: str = _setting(
        "QUEUE_REDIS_URL",
        "",
        "rq's queues when not on REDIS_URL: a plain or Sentinel Redis (required with a cluster)",
    )
    redis_prefix: str = _setting(
        "REDIS_PREFIX", DEFAULT_PREFIX, "namespace of every Redis key and rq queue of this install"
    )
    redis_socket_timeout: float = _setting(
        "REDIS_SOCKET_TIMEOUT", 0.5, "seconds before a Redis call is abandoned"
    )
    emulate_redis: bool = _setting(
        "GUICHET_EMULATE_REDIS",
        False,
        "in-process Redis emulation, jobs run inline (dev only, one process: `python -m gateway"
        " run --emulate-redis`)",
    )
    database_url: str = _setting(
        "DATABASE_URL",
        DEFAULT_DATABASE_URL,
        "civic back office (SQLite or PostgreSQL); another CITY's default: var/guichet-<CITY>.db",
    )
    # --- city pack (runtime/packs.py): the paths and operators below default to CITY's pack ---
    city: str = _setting("CITY", DEFAULT_CITY, "the city pack served: a folder cities/<id>/")
    menus_path: str = _setting(
        "MENUS_PATH", "", "the city's menus and texts (default: cities/<CITY>/menus.yaml)"
    )
    catalogue_path: str = _setting(
        "CATALOGUE_PATH",
        "",
        "the city's catalogue and demo data, for seeding (default: cities/<CITY>/catalogue.yaml)",
    )
    ussd_session_ttl_seconds: int = _setting(
        "USSD_SESSION_TTL_SECONDS", 0, "USSD session lifetime in Redis; 0 = menus.yaml settings"
    )
    ussd_events_max: int = _setting(
        "USSD_EVENTS_MAX", 200000, "end-of-session events kept in Redis for the funnel report"
    )
    ussd_lock_wait_seconds: float = _setting(
        "USSD_LOCK_WAIT_SECONDS", 2.0, "how long a hop waits for a concurrent hop of its session"
    )
    # --- the configurable CON/END USSD adapter, /ussd/generic (gateway/aggregators/generic.py) ---
    ussd_generic_session_field: str = _setting(
        "USSD_GENERIC_SESSION_FIELD", "SESSIONID", "/ussd/generic: the session id's field name"
    )
    ussd_generic_msisdn_field: str = _setting(
        "USSD_GENERIC_MSISDN_FIELD", "MSISDN", "/ussd/generic: the caller's number's field name"
    )
    ussd_generic_service_field: str = _setting(
        "USSD_GENERIC_SERVICE_FIELD", "USSDCODE", "/ussd/generic: the dialled code's field name"
    )
    ussd_generic_input_field: str = _setting(
        "USSD_GENERIC_INPUT_FIELD", "INPUT", "/ussd/generic: the input's field name"
    )
    ussd_generic_input: str = _setting(
        "USSD_GENERIC_INPUT",
        "cumulative",
        "/ussd/generic: cumulative (input is `1*2*3`) or latest (only the last answer)",
    )
    # --- end of the /ussd/generic settings ---
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
    rate_request_guesses: str = _setting(
        "RATE_REQUEST_GUESSES",
        "10/3600",
        "request lookups per phone that find nothing it may see, USSD and SMS (fails closed)",
    )
    # --- SMS (sms/) ---
    sms_provider: str = _setting(
        "SMS_PROVIDER",
        "console",
        "console (prints and records SMS), africastalking, twilio, orange or infobip",
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
    # --- SMS providers beyond Africa's Talking (sms/providers/) ---
    twilio_account_sid: str = _setting(
        "TWILIO_ACCOUNT_SID", "", "Twilio account SID, AC… (required with SMS_PROVIDER=twilio)"
    )
    twilio_auth_token: str = _setting(
        "TWILIO_AUTH_TOKEN",
        "",
        "Twilio auth token: sends, and checks X-Twilio-Signature on every Twilio callback",
    )
    twilio_from: str = _setting(
        "TWILIO_FROM", "", "Twilio sender: a number, an alphanumeric id or a Messaging Service MG…"
    )
    twilio_api_base_url: str = _setting(
        "TWILIO_API_BASE_URL", "https://api.twilio.com", "Twilio API root (dev: the fake server)"
    )
    orange_sms_base_url: str = _setting(
        "ORANGE_SMS_BASE_URL", "https://api.orange.com", "Orange SMS API root (dev: the fake)"
    )
    orange_sms_client_id: str = _setting(
        "ORANGE_SMS_CLIENT_ID", "", "developer.orange.com app client id with the SMS API"
    )
    orange_sms_client_secret: str = _setting(
        "ORANGE_SMS_CLIENT_SECRET", "", "that app's client secret"
    )
    orange_sms_sender: str = _setting(
        "ORANGE_SMS_SENDER", "", "the app's sender number, international (+243…)"
    )
    orange_sms_sender_name: str = _setting(
        "ORANGE_SMS_SENDER_NAME", "", "a sender name Orange registered for the app (optional)"
    )
    infobip_base_url: str = _setting(
        "INFOBIP_BASE_URL", "", "the account's API root, https://<id>.api.infobip.com"
    )
    infobip_api_key: str = _setting("INFOBIP_API_KEY", "", "Infobip API key (`App` scheme)")
    infobip_from: str = _setting("INFOBIP_FROM", "", "Infobip sender id or number")
    sms_http_timeout_seconds: float = _setting(
        "SMS_HTTP_TIMEOUT_SECONDS", 10.0, "HTTP timeout of one call to Twilio, Orange or Infobip"
    )
    sms_allowed_countries: str = _setting(
        "SMS_ALLOWED_COUNTRIES", "", "comma-separated ISO regions we send to (default: the city's)"
    )
    sms_daily_budget: int = _setting(
        "SMS_DAILY_BUDGET",
        20,
        "notices (not essential SMS) per phone per day, beyond which they are refused",
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
    appointment_reminder_sweep_seconds: float = _setting(
        "APPOINTMENT_REMINDER_SWEEP_SECONDS",
        300.0,
        "period of the sweep sending appointment reminders in their evening window (0: off)",
    )
    sms_hold_seconds: int = _setting(
        "SMS_HOLD_SECONDS", 900, "pause after an account-level hold (RiskHold, low balance)"
    )
    sms_templates_path: str = _setting(
        "SMS_TEMPLATES_PATH", "", "the SMS templates (default: cities/<CITY>/sms_templates.yaml)"
    )
    otp_key: str = _setting(
        "OTP_KEY",
        "",
        "HMAC key for stored OTPs and SMS preference refs "
        "(required in production; dev derives one)",
    )
    sms_callback_token: str = _setting(
        "SMS_CALLBACK_TOKEN",
        "",
        "secret in SMS callback URLs (required in production; dev accepts any when unset)",
    )
    # --- payments (payments/) ---
    payment_operators: str = _setting(
        "PAYMENT_OPERATORS",
        "",
        "operator:provider pairs in menu order (sandbox, daraja, airtel, vodacom, paygate, orange);"
        " default: the pack's city.payment_operators (none: fees paid at the counter)",
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
        "period of the reconciliation job (0: off, run `python -m gateway payments reconcile`"
        " from cron)",
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
    airtel_base_url: str = _setting(
        "AIRTEL_BASE_URL",
        "https://openapiuat.airtel.africa",
        "Airtel Money Open API root (production: https://openapi.airtel.africa)",
    )
    airtel_client_id: str = _setting("AIRTEL_CLIENT_ID", "", "Airtel Open API app client id")
    airtel_client_secret: str = _setting(
        "AIRTEL_CLIENT_SECRET", "", "Airtel Open API app client secret"
    )
    airtel_country: str = _setting("AIRTEL_COUNTRY", "CD", "Airtel X-Country (ISO 3166 alpha-2)")
    airtel_currency: str = _setting("AIRTEL_CURRENCY", "CDF", "Airtel X-Currency (CDF or USD)")
    airtel_callback_secret: str = _setting(
        "AIRTEL_CALLBACK_SECRET",
        "",
        "key of the callback `hash` when Airtel's callback authentication is on (else unchecked)",
    )
    airtel_timeout_seconds: float = _setting(
        "AIRTEL_TIMEOUT_SECONDS", 10.0, "HTTP timeout of one Airtel Open API call"
    )
    vodacom_base_url: str = _setting(
        "VODACOM_BASE_URL",
        "https://openapi.m-pesa.com/sandbox",
        "M-Pesa OpenAPI root (…/sandbox or …/openapi)",
    )
    vodacom_market: str = _setting(
        "VODACOM_MARKET", "vodacomDRC", "M-Pesa OpenAPI market (vodacomDRC, vodacomTZN, …)"
    )
    vodacom_country: str = _setting("VODACOM_COUNTRY", "DRC", "input_Country of the market")
    vodacom_currency: str = _setting(
        "VODACOM_CURRENCY", "USD", "input_Currency (DRC: USD; CDF needs VODACOM_ALLOW_CDF)"
    )
    vodacom_allow_cdf: bool = _setting(
        "VODACOM_ALLOW_CDF", False, "accept CDF once Vodacom confirmed your shortcode takes it"
    )
    vodacom_api_key: str = _setting("VODACOM_API_KEY", "", "M-Pesa OpenAPI portal API key")
    vodacom_public_key: str = _setting(
        "VODACOM_PUBLIC_KEY", "", "the portal's base64 RSA public key (encrypts bearer values)"
    )
    vodacom_service_provider_code: str = _setting(
        "VODACOM_SERVICE_PROVIDER_CODE", "", "your M-Pesa shortcode (input_ServiceProviderCode)"
    )
    vodacom_origin: str = _setting(
        "VODACOM_ORIGIN", "*", "Origin header, as registered for the portal application"
    )
    vodacom_timeout_seconds: float = _setting(
        "VODACOM_TIMEOUT_SECONDS", 15.0, "HTTP read timeout of session and status calls"
    )
    vodacom_push_timeout_seconds: float = _setting(
        "VODACOM_PUSH_TIMEOUT_SECONDS",
        120.0,
        "HTTP read timeout of the C2B call, which waits for the customer's PIN",
    )
    vodacom_session_activation_seconds: float = _setting(
        "VODACOM_SESSION_ACTIVATION_SECONDS", 30.0, "a new session may be refused this long"
    )
    vodacom_session_lifetime_seconds: float = _setting(
        "VODACOM_SESSION_LIFETIME_SECONDS", 3600.0, "renew the session after this (portal setting)"
    )
    paygate_base_url: str = _setting(
        "PAYGATE_BASE_URL", "https://paygateglobal.com", "PayGateGlobal API root (Flooz, T-Money)"
    )
    paygate_auth_token: str = _setting(
        "PAYGATE_AUTH_TOKEN", "", "PayGateGlobal merchant auth_token (dashboard)"
    )
    paygate_timeout_seconds: float = _setting(
        "PAYGATE_TIMEOUT_SECONDS", 10.0, "HTTP timeout of one PayGateGlobal call"
    )
    orange_base_url: str = _setting(
        "ORANGE_BASE_URL", "https://api.orange.com", "Orange Money Web Payment API root"
    )
    orange_client_id: str = _setting("ORANGE_CLIENT_ID", "", "developer.orange.com app client id")
    orange_client_secret: str = _setting(
        "ORANGE_CLIENT_SECRET", "", "developer.orange.com app client secret"
    )
    orange_merchant_key: str = _setting(
        "ORANGE_MERCHANT_KEY", "", "Orange Money Web Payment merchant key"
    )
    orange_country: str = _setting(
        "ORANGE_COUNTRY", "dev", "webpay path segment: dev (sandbox), cd, cm, ci, sn, ml..."
    )
    orange_currency: str = _setting(
        "ORANGE_CURRENCY", "OUV", "currency sent to Orange (OUV on dev, else the city's)"
    )
    orange_return_url: str = _setting(
        "ORANGE_RETURN_URL", "", "page shown after paying (default PUBLIC_BASE_URL), <= 120 chars"
    )
    orange_cancel_url: str = _setting(
        "ORANGE_CANCEL_URL", "", "page shown after cancelling (default PUBLIC_BASE_URL)"
    )
    orange_timeout_seconds: float = _setting(
        "ORANGE_TIMEOUT_SECONDS", 10.0, "HTTP timeout of one Orange Money call"
    )
    # --- simulator (gateway/simulator/) ---
    simulator_enabled: bool = _setting(
        "SIMULATOR_ENABLED",
        True,
        "serve the phone simulator at /simulator (production refuses it: set 0)",
    )
    # --- personal data (personal_data/, runtime/sealing.py; README "Personal data") ---
    personal_data_keys: str = _setting(
        "PERSONAL_DATA_KEYS",
        "",
        "comma-separated Fernet keys sealing ID numbers, dates of birth and queued SMS numbers "
        "in SQL, newest first (required in production; dev uses a fixed key)",
    )
    retention_requests_days: int = _setting(
        "RETENTION_REQUESTS_DAYS",
        3650,
        "closed document requests are anonymised this long after their last change",
    )
    retention_payments_days: int = _setting(
        "RETENTION_PAYMENTS_DAYS",
        3650,
        "payments and receipts keep the payer's phone this long, then a keyed hash",
    )
    retention_appointments_days: int = _setting(
        "RETENTION_APPOINTMENTS_DAYS",
        365,
        "appointments keep the booking phone this long after their day, then a keyed hash",
    )
    retention_messages_days: int = _setting(
        "RETENTION_MESSAGES_DAYS", 30, "SMS message log records (Redis) are kept this long"
    )
    retention_events_days: int = _setting(
        "RETENTION_EVENTS_DAYS", 90, "USSD end-of-session events (Redis stream) are kept this long"
    )
    retention_sweep_seconds: float = _setting(
        "RETENTION_SWEEP_SECONDS",
        3600.0,
        "period of the retention job started by the worker (0: off, run it from cron)",
    )
    # --- staff console (gateway/console/), API offices, /metrics access ---
    console_session_idle_seconds: int = _setting(
        "CONSOLE_SESSION_IDLE_SECONDS", 1800, "a console session ends after this long unused"
    )
    console_session_max_seconds: int = _setting(
        "CONSOLE_SESSION_MAX_SECONDS", 36000, "a console session ends this long after login"
    )
    rate_console_logins: str = _setting(
        "RATE_CONSOLE_LOGINS",
        "10/300",
        "console login attempts per client IP (count/seconds); an account also locks after 5",
    )
    api_key_offices: str = _setting(
        "API_KEY_OFFICES",
        "",
        "key_id:office+office,... restricts an agent key to its offices' requests (others: all)",
    )
    metrics_token: str = _setting(
        "METRICS_TOKEN", "", "bearer token /metrics requires (production: this or METRICS_CIDRS)"
    )
    metrics_cidrs: str = _setting(
        "METRICS_CIDRS", "", "comma-separated networks /metrics answers without the token"
    )
    # --- end of the staff console's settings ---
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

    def __post_init__(self) -> None:
        # What is not set explicitly comes from CITY's pack, so `CITY=<id>` alone serves a city.
        try:
            found = pack(self.city)
            operators = self.payment_operators or str(found.city().get("payment_operators") or "")
        except PackError as error:
            raise ConfigError(str(error)) from None
        for name, value in (
            ("menus_path", str(found.menus)),
            ("sms_templates_path", str(found.sms_templates)),
            ("catalogue_path", str(found.catalogue)),
            ("payment_operators", operators),
        ):
            if not getattr(self, name):
                object.__setattr__(self, name, value)
        if self.database_url == DEFAULT_DATABASE_URL and self.city != DEFAULT_CITY:
            # Each city's demo data in its own file: `CITY=x make run` never mixes two cities.
            object.__setattr__(self, "database_url", f"sqlite:///var/guichet-{self.city}.db")

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
        if self.sms_provider not in SMS_PROVIDERS:
            raise ConfigError(
                f"SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)}, not {self.sms_provider!r}"
            )
        if self.civic_backend not in {"sql", "http"}:
            raise ConfigError(f"CIVIC_BACKEND must be sql or http, not {self.civic_backend!r}")
        if self.civic_backend == "http" and not self.civic_portal_url:
            raise ConfigError("CIVIC_BACKEND=http needs CIVIC_PORTAL_URL")
        for name in (
            "rate_ussd_hops",
            "rate_sms_inbound",
            "rate_otp_sends",
            "rate_api_per_ip",
            "rate_request_guesses",
            "rate_console_logins",
        ):
            try:
                Rate.parse(getattr(self, name))
            except RateError as error:
                raise ConfigError(f"{name.upper()}: {error}") from None
        for name in (
            "ussd_callback_cidrs",
            "sms_callback_cidrs",
            "payment_callback_cidrs",
            "trusted_proxies",
            "metrics_cidrs",
        ):
            try:
                networks(getattr(self, name))
            except ValueError as error:
                raise ConfigError(f"{name.upper()}: {error}") from None
        self._check_generic_ussd()
        if self.max_request_bytes < 1024:
            raise ConfigError("MAX_REQUEST_BYTES must be at least 1024")
        redis_problems = self.redis_problems()
        if redis_problems:
            raise ConfigError("; ".join(redis_problems))
        if self.env == "production":
            problems = self.production_problems()
            if problems:
                raise ConfigError(refusal(problems))

    def _check_generic_ussd(self) -> None:
        # The configurable USSD adapter: four distinct field names and a known input mode.
        if self.ussd_generic_input not in {"cumulative", "latest"}:
            raise ConfigError(
                f"USSD_GENERIC_INPUT must be cumulative or latest, not {self.ussd_generic_input!r}"
            )
        names = [
            self.ussd_generic_session_field,
            self.ussd_generic_msisdn_field,
            self.ussd_generic_service_field,
            self.ussd_generic_input_field,
        ]
        valid = all(_FIELD_NAME.fullmatch(name) and name != "token" for name in names)
        if not valid or len(set(names)) < len(names):
            # `token` is the callback token's query parameter (gateway/callback_auth.py).
            raise ConfigError(
                "USSD_GENERIC_*_FIELD must be four distinct field names "
                "(letters, digits, _ - .; not token)"
            )

    def production_problems(self) -> list[str]:
        """Return one line per secret, play-money setting or unsafe default production refuses."""
        problems = self._missing_secrets()
        problems += self.play_money()
        problems += self._reused_secrets()
        problems += self._test_systems()
        problems += self._africastalking_mismatch()
        if self.emulate_redis:
            problems.append("GUICHET_EMULATE_REDIS is for development only")
        problems += self.redis_problems()
        if not self.metrics_token and not self.metrics_cidrs.strip():
            # Staff console (gateway/console): the counters say what the city's citizens do.
            problems.append("/metrics: set METRICS_TOKEN or METRICS_CIDRS (it would be public)")
        return problems

    def redis_problems(self) -> list[str]:
        """Return what makes the Redis settings unusable (any environment)."""
        problems: list[str] = []
        try:
            check_prefix(self.redis_prefix)
        except PrefixError as error:
            problems.append(f"REDIS_PREFIX: {error}")
        targets = {}
        for env, url in (("REDIS_URL", self.redis_url), ("QUEUE_REDIS_URL", self.queue_redis_url)):
            if not url:
                continue
            try:
                targets[env] = parse_redis_url(url).topology
            except ValueError as error:
                problems.append(f"{env}: {error}")
        if targets.get("QUEUE_REDIS_URL") == "cluster":
            problems.append(
                "QUEUE_REDIS_URL: rq cannot run on a cluster (use a plain or Sentinel Redis)"
            )
        elif targets.get("REDIS_URL") == "cluster" and not self.queue_redis_url:
            problems.append(
                "QUEUE_REDIS_URL is missing: REDIS_URL is a cluster and rq cannot run on one "
                "(set a plain or Sentinel Redis for the queues)"
            )
        return problems

    def play_money(self) -> list[str]:
        """Return what makes this process play money: sandbox payments, console SMS, demos."""
        found: list[str] = []
        sandboxed = [
            f"{operator}:{provider}"
            for operator, provider in self._operators()
            if provider == "sandbox"
        ]
        if sandboxed:
            found.append(
                f"PAYMENT_OPERATORS: {', '.join(sandboxed)} use the sandbox provider "
                "(taxes marked paid, no money moves)"
            )
        if self.sms_provider == "console":
            found.append("SMS_PROVIDER: console prints SMS instead of sending them")
        if self.sms_provider == "africastalking" and self.at_username == AT_SANDBOX_USERNAME:
            live = (urlsplit(self.at_api_base_url).hostname or "").lower() == AT_LIVE_HOST
            found.append(
                "AT_USERNAME: sandbox, Africa's Talking's test account, is sent to the live "
                "AT_API_BASE_URL"
                if live
                else "AT_USERNAME: sandbox is Africa's Talking's test account (no SMS leaves)"
            )
        demo = self._demo_api_keys()
        if demo:
            found.append(f"API_KEYS: {', '.join(demo)} (published in the README)")
        elif not self.api_keys.strip() and self.env == "development":
            found.append(
                "API_KEYS: empty, the demo keys demo-agent-key and demo-portal-key open the API"
            )
        if self.simulator_enabled:
            found.append("SIMULATOR_ENABLED: the phone simulator is served (set 0)")
        return found

    def secrets(self) -> Iterator[tuple[str, str]]:
        """Yield (env var, value) of every secret-typed setting that is set."""
        for f in dataclasses.fields(self):
            env = f.metadata["env"]
            value = getattr(self, f.name)
            if isinstance(value, str) and value and is_secret_setting(env, f.metadata["secret"]):
                yield env, value

    def in_use(self, env: str) -> bool:
        """Return True when the outside service a setting belongs to is configured."""
        prefix = env.split("_", 1)[0].lower()
        if prefix == "at":
            return self.sms_provider == "africastalking"
        if prefix in ("twilio", "infobip"):
            return self.sms_provider == prefix
        if env.startswith("ORANGE_SMS_"):  # ORANGE_* alone is the payment adapter's
            return self.sms_provider == "orange"
        if prefix == "civic":
            return self.civic_backend == "http"
        if prefix == "public" or prefix in _OWN_PREFIXES:
            return True
        return prefix in {provider for _operator, provider in self._operators()}

    def _missing_secrets(self) -> list[str]:
        problems: list[str] = []
        secrets = {
            "USSD_CALLBACK_TOKEN": self.ussd_callback_token,
            "SMS_CALLBACK_TOKEN": self.sms_callback_token,
            "PAYMENT_CALLBACK_TOKEN": self.payment_callback_token,
            "RECEIPT_KEY": self.receipt_key,
            "OTP_KEY": self.otp_key,
        }
        values = {f.metadata["env"]: getattr(self, f.name) for f in dataclasses.fields(self)}
        for env in _SMS_REQUIRED.get(self.sms_provider, ()):
            if is_secret_setting(env):
                secrets[env] = values[env]
            elif not values[env]:
                problems.append(f"{env} is missing (SMS_PROVIDER={self.sms_provider})")
        for env, value in secrets.items():
            if not value:
                problems.append(f"{env} is missing")
            elif len(value) < MIN_SECRET_CHARS and env != "AT_API_KEY":
                problems.append(f"{env} is shorter than {MIN_SECRET_CHARS} characters")
            elif env.endswith("_TOKEN") and not _URL_SAFE.fullmatch(value):
                problems.append(f"{env} must use only A-Z a-z 0-9 . _ ~ - (it sits in URLs)")
        if not self.api_keys.strip():
            problems.append("API_KEYS is missing (`python -m gateway hash-key`)")
        if not self.public_base_url:
            problems.append(
                "PUBLIC_BASE_URL is missing (providers call back to it; default is this machine)"
            )
        if self.emulate_redis:
            problems.append("GUICHET_EMULATE_REDIS is for development only")
        if not Rate.parse(self.rate_request_guesses).enabled:
            problems.append("RATE_REQUEST_GUESSES=off lets anyone enumerate citizens' requests")
        return problems

    def _reused_secrets(self) -> list[str]:
        # One value, two purposes: the holder of the USSD token could open the SMS channel.
        by_value: dict[str, list[str]] = {}
        for env, value in self.secrets():
            by_value.setdefault(value, []).append(env)
        return [
            f"{' and '.join(names)}: one value for {len(names)} secrets (each needs its own)"
            for names in by_value.values()
            if len(names) > 1
        ]

    def _test_systems(self) -> list[str]:
        # Every outside service's `*_URL`, and any adapter setting that names a test system
        # by value (an environment or market such as VODACOM_ENVIRONMENT=sandbox).
        problems: list[str] = []
        for f in dataclasses.fields(self):
            env = f.metadata["env"]
            value = getattr(self, f.name)
            if not isinstance(value, str) or not value or env in _INFRASTRUCTURE_URLS:
                continue
            if not self.in_use(env):
                continue
            if env.endswith("_URL"):
                why = not_live_reason(value)
                if why is not None:
                    problems.append(f"{env} {why}")
            elif (
                env.split("_", 1)[0].lower() not in _OWN_PREFIXES | {"at", "civic", "public"}
                and not is_secret_setting(env, f.metadata["secret"])
                and value.strip().lower() in _TEST_PATH_SEGMENTS
            ):
                problems.append(f"{env}: {value.strip()} selects the provider's test system")
        return problems

    def _africastalking_mismatch(self) -> list[str]:
        # AT refuses a live account on the sandbox host (and the sandbox account on the live
        # one, said by play_money): a silent SMS outage, caught here instead.
        if self.sms_provider != "africastalking":
            return []
        host = (urlsplit(self.at_api_base_url).hostname or "").lower()
        if self.at_username != AT_SANDBOX_USERNAME and "sandbox" in host.split("."):
            return [
                f"AT_USERNAME: the live account {self.at_username!r} is sent to the sandbox URL"
            ]
        return []

    def _demo_api_keys(self) -> list[str]:
        demo_digests = {hashlib.sha256(key.encode()).hexdigest() for key in DEMO_API_KEYS}
        demo_ids = {key_id for key_id, _scope in DEMO_API_KEYS.values()}
        found: list[str] = []
        for raw in filter(None, (part.strip() for part in self.api_keys.split(","))):
            key_id, _, rest = raw.partition(":")
            hexdigest = rest.rpartition(":")[2].lower()
            if hexdigest in demo_digests:
                found.append(f"{key_id or '?'} is a demo key")
            elif key_id in demo_ids:
                found.append(f"{key_id} is a demo account")
        return found

    def _operators(self) -> list[tuple[str, str]]:
        # Lenient here: payments.config.parse_operators reports malformed entries at start.
        pairs: list[tuple[str, str]] = []
        for part in filter(None, (p.strip() for p in self.payment_operators.split(","))):
            operator, _, provider = part.partition(":")
            pairs.append((operator.strip(), provider.strip()))
        return pairs

    @classmethod
    def documented(cls) -> list[tuple[str, str, str]]:
        """Return (env var, default, meaning) for every setting, for the README."""
        return [
            (f.metadata["env"], str(f.default), f.metadata["doc"]) for f in dataclasses.fields(cls)
        ]


def refusal(problems: list[str]) -> str:
    """Return the one error message production gives for all its problems."""
    found = "; ".join(problems)
    return f"production refuses to start: {found} (README: Going live; python -m gateway check)"


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
