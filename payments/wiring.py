"""Build the payments services from settings; called by gateway.container._wire_payments."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote, urlencode

import redis

import runtime
from civic.ports import Backend
from civic.sql import SqlBackend
from payments.config import PaymentConfigError, PaymentsConfig, PaymentSettings, parse_operators
from payments.jobs import schedule_reconcile
from payments.providers.airtel import AirtelConfig, AirtelProvider
from payments.providers.base import Provider
from payments.providers.daraja import DarajaConfig, DarajaProvider
from payments.providers.sandbox import SandboxProvider
from payments.providers.vodacom import (
    MARKETS,
    UNVERIFIED_CURRENCIES,
    VodacomConfig,
    VodacomProvider,
)
from payments.queues import InlineJobs, JobScheduler, RqJobs
from payments.receipts import ReceiptCodec, ReceiptVerifier
from payments.service import PaymentService, SmsSender
from payments.store import PaymentStore, build_engine

log = logging.getLogger(__name__)

DEFAULT_JOB_TIMEOUT: Final = 180.0  # rq's own default

# Development only: production refuses to start without RECEIPT_KEY (gateway.config).
DEV_RECEIPT_KEY: Final = "guichet-development-receipt-key-not-secret"


def public_base_url(settings: PaymentSettings) -> str:
    """Return our own public URL (PUBLIC_BASE_URL, default http://127.0.0.1:$PORT)."""
    base = settings.public_base_url or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
    return base.rstrip("/")


def callback_url_builder(settings: PaymentSettings) -> CallbackUrl:
    """Return the function giving a provider's callback URL for one intent."""
    return CallbackUrl(public_base_url(settings), settings.payment_callback_token)


class CallbackUrl:
    """`<base>/payments/<provider>/callback/t/<token>?intent=…`: the token authenticates it.

    The token travels as a path segment, where gateway.callback_auth reads it and the access
    log filter masks it (`?token=` is accepted too).
    """

    def __init__(self, base: str, token: str) -> None:
        self._base = base
        self._token = token

    def __call__(self, provider: str, intent_id: str) -> str:
        secret = f"/t/{quote(self._token, safe='')}" if self._token else ""
        query = urlencode({"intent": intent_id})
        return f"{self._base}/payments/{provider}/callback{secret}?{query}"


def receipt_codec(settings: PaymentSettings) -> ReceiptCodec:
    """Return the codec keyed with RECEIPT_KEY (a fixed, logged key in development)."""
    key = settings.receipt_key
    if not key:
        if settings.env == "production":
            raise PaymentConfigError("RECEIPT_KEY is required in production")
        log.warning("RECEIPT_KEY is not set: receipts use the public development key")
        key = DEV_RECEIPT_KEY
    if len(key.encode()) < 16:
        raise PaymentConfigError("RECEIPT_KEY must be at least 16 bytes")
    return ReceiptCodec(key.encode())


def build_providers(
    settings: PaymentSettings,
    wanted: set[str],
    connection: redis.Redis,
    jobs: JobScheduler,
) -> dict[str, Provider]:
    """Build the adapters the operator table names."""
    callback_url = callback_url_builder(settings)
    providers: dict[str, Provider] = {}
    for name in sorted(wanted):
        if name == "sandbox":
            providers[name] = SandboxProvider(
                connection, jobs, callback_url, settings.sandbox_callback_delay_seconds
            )
        elif name == "daraja":
            missing = [
                env
                for env, value in (
                    ("DARAJA_CONSUMER_KEY", settings.daraja_consumer_key),
                    ("DARAJA_CONSUMER_SECRET", settings.daraja_consumer_secret),
                    ("DARAJA_SHORTCODE", settings.daraja_shortcode),
                    ("DARAJA_PASSKEY", settings.daraja_passkey),
                )
                if not value
            ]
            if missing:
                raise PaymentConfigError(f"the daraja provider needs {', '.join(missing)}")
            providers[name] = DarajaProvider(
                DarajaConfig(
                    base_url=settings.daraja_base_url.rstrip("/"),
                    consumer_key=settings.daraja_consumer_key,
                    consumer_secret=settings.daraja_consumer_secret,
                    shortcode=settings.daraja_shortcode,
                    passkey=settings.daraja_passkey,
                    timeout_seconds=settings.daraja_timeout_seconds,
                ),
                callback_url,
            )
        elif name == "airtel":
            providers[name] = airtel_provider(settings)
        elif name == "vodacom":
            providers[name] = VodacomProvider(vodacom_config(settings))
        else:
            raise PaymentConfigError(f"PAYMENT_OPERATORS names unknown provider {name!r}")
    return providers


def airtel_provider(settings: PaymentSettings) -> AirtelProvider:
    """Build the Airtel Money adapter; refuse missing credentials."""
    missing = [
        env
        for env, value in (
            ("AIRTEL_CLIENT_ID", settings.airtel_client_id),
            ("AIRTEL_CLIENT_SECRET", settings.airtel_client_secret),
            ("AIRTEL_COUNTRY", settings.airtel_country),
            ("AIRTEL_CURRENCY", settings.airtel_currency),
        )
        if not value
    ]
    if missing:
        raise PaymentConfigError(f"the airtel provider needs {', '.join(missing)}")
    return AirtelProvider(
        AirtelConfig(
            base_url=settings.airtel_base_url.rstrip("/"),
            client_id=settings.airtel_client_id,
            client_secret=settings.airtel_client_secret,
            country=settings.airtel_country.upper(),
            currency=settings.airtel_currency.upper(),
            callback_secret=settings.airtel_callback_secret,
            timeout_seconds=settings.airtel_timeout_seconds,
        )
    )


def vodacom_config(settings: PaymentSettings) -> VodacomConfig:
    """Check the VODACOM_* settings and return the adapter's configuration."""
    missing = [
        env
        for env, value in (
            ("VODACOM_API_KEY", settings.vodacom_api_key),
            ("VODACOM_PUBLIC_KEY", settings.vodacom_public_key),
            ("VODACOM_SERVICE_PROVIDER_CODE", settings.vodacom_service_provider_code),
        )
        if not value
    ]
    if missing:
        raise PaymentConfigError(f"the vodacom provider needs {', '.join(missing)}")
    market = MARKETS.get(settings.vodacom_market)
    if market is None:
        raise PaymentConfigError(
            f"VODACOM_MARKET {settings.vodacom_market!r} is not one of {', '.join(MARKETS)}"
        )
    country, currencies = market
    if settings.vodacom_country != country:
        raise PaymentConfigError(f"VODACOM_COUNTRY must be {country} for {settings.vodacom_market}")
    currency = settings.vodacom_currency
    unverified = UNVERIFIED_CURRENCIES.get(settings.vodacom_market, frozenset())
    if currency in unverified and not settings.vodacom_allow_cdf:
        raise PaymentConfigError(
            f"VODACOM_CURRENCY {currency} is unverified for {settings.vodacom_market}: set "
            "VODACOM_ALLOW_CDF=1 once Vodacom confirmed your shortcode takes it"
        )
    if currency not in currencies | unverified:
        raise PaymentConfigError(
            f"VODACOM_CURRENCY {currency!r} is not taken in {settings.vodacom_market} "
            f"({', '.join(sorted(currencies | unverified))})"
        )
    return VodacomConfig(
        base_url=settings.vodacom_base_url.rstrip("/"),
        market=settings.vodacom_market,
        country=country,
        currency=currency,
        api_key=settings.vodacom_api_key,
        public_key=settings.vodacom_public_key,
        service_provider_code=settings.vodacom_service_provider_code,
        origin=settings.vodacom_origin,
        timeout_seconds=settings.vodacom_timeout_seconds,
        push_timeout_seconds=settings.vodacom_push_timeout_seconds,
        session_activation_seconds=settings.vodacom_session_activation_seconds,
        session_lifetime_seconds=settings.vodacom_session_lifetime_seconds,
    )


def slow_push_seconds(providers: Mapping[str, Provider]) -> float:
    """Return how long the slowest push may legitimately run (0: every push is quick)."""
    slow = [p.job_timeout_seconds() for p in providers.values() if isinstance(p, VodacomProvider)]
    return max(slow, default=0.0)


def _sms_service(container: runtime.Container) -> SmsSender | None:
    try:
        from sms.service import SmsService  # noqa: PLC0415 - sms may not be wired in this tree
    except ImportError:
        return None
    found: SmsSender | None = container.find(SmsService)
    return found


def wire(
    container: runtime.Container,
    settings: PaymentSettings,
    *,
    timezone: str = "UTC",
    short_code: str = "",
) -> PaymentService:
    """Build and register PaymentStore, PaymentService, ReceiptVerifier and friends."""
    operators = parse_operators(settings.payment_operators)
    connection = container.get(redis.Redis)
    jobs: JobScheduler = InlineJobs() if settings.emulate_redis else RqJobs(connection)
    container.register(JobScheduler, jobs)  # type: ignore[type-abstract]
    store = PaymentStore(build_engine(settings.database_url))
    container.register(PaymentStore, store)
    codec = receipt_codec(settings)
    container.register(ReceiptCodec, codec)
    container.register(ReceiptVerifier, ReceiptVerifier(codec, store.receipt_fields))
    backend: Backend | None = container.find(Backend)  # type: ignore[type-abstract]
    if backend is None:  # civic not wired in this process: the embedded back office
        backend = SqlBackend.from_url(settings.database_url)
    # PAYMENT_CALLBACK_TOKEN: gateway.config refuses production without it and
    # gateway.callback_auth says at start-up which channels accept callbacks without a token.
    providers = build_providers(settings, set(operators.values()), connection, jobs)
    slow_push = slow_push_seconds(providers)
    job_timeout = max(DEFAULT_JOB_TIMEOUT, slow_push)
    service = PaymentService(
        store=store,
        providers=providers,
        backend=backend,
        sms=_sms_service(container),
        jobs=jobs,
        codec=codec,
        config=PaymentsConfig(
            operators=operators,
            push_delay_seconds=settings.payment_push_delay_seconds,
            intent_ttl_seconds=settings.payment_intent_ttl_seconds,
            reconcile_after_seconds=settings.payment_reconcile_after_seconds,
            # Past this a `pushing` intent's job is dead: never while a push job may still run.
            stale_push_seconds=max(
                60.0,
                3 * settings.daraja_timeout_seconds,
                3 * settings.airtel_timeout_seconds,
                job_timeout + 60 if slow_push else 0,
            ),
            push_job_timeout_seconds=job_timeout,
            timezone=timezone,
            short_code=short_code,
        ),
    )
    container.register(PaymentService, service)
    if not settings.emulate_redis:
        try:
            schedule_reconcile(jobs, settings.payment_reconcile_interval_seconds)
        except redis.RedisError:
            log.warning("could not schedule payment reconciliation (Redis down); cron can run it")
    return service
