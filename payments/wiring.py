"""Build the payments services from settings; called by gateway.container._wire_payments."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import quote, urlencode

import redis
from sqlalchemy import Engine

import runtime
from civic.ports import Backend
from payments.config import PaymentConfigError, PaymentsConfig, PaymentSettings, parse_operators
from payments.intent_store import IntentStore
from payments.jobs import process_callback, push_intent, sandbox_callback, schedule_reconcile
from payments.providers.airtel import AirtelConfig, AirtelProvider
from payments.providers.base import Provider
from payments.providers.daraja import DarajaConfig, DarajaProvider
from payments.providers.orange import DEV_CURRENCY, MAX_URL_CHARS, OrangeConfig, OrangeProvider
from payments.providers.paygate import CURRENCY as PAYGATE_CURRENCY
from payments.providers.paygate import NETWORKS, PayGateConfig, PayGateProvider
from payments.providers.sandbox import SandboxProvider
from payments.providers.vodacom import (
    MARKETS,
    UNVERIFIED_CURRENCIES,
    VodacomConfig,
    VodacomProvider,
)
from payments.queues import JobScheduler, PaymentJobs
from payments.receipt_book import ReceiptBook
from payments.receipts import ReceiptCodec, ReceiptVerifier
from payments.service import PaymentService, SmsSender
from payments.store import PaymentStore
from runtime.jobs import jobs_for
from sms.receipt_desk import ReceiptDesk
from sms.service import SmsService
from text.money import MoneyFormat

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


def _require(provider: str, pairs: tuple[tuple[str, str], ...]) -> None:
    missing = [env for env, value in pairs if not value]
    if missing:
        raise PaymentConfigError(f"the {provider} provider needs {', '.join(missing)}")


def check_operators(operators: dict[str, str]) -> None:
    """Refuse operator keys a provider cannot serve (PayGate: flooz and tmoney only)."""
    for operator, provider in operators.items():
        if provider == "paygate" and operator not in NETWORKS:
            raise PaymentConfigError(
                f"PAYMENT_OPERATORS: paygate serves {' and '.join(NETWORKS)}, not {operator!r}"
            )


def check_currency(operators: dict[str, str], settings: PaymentSettings, currency: str) -> None:
    """Refuse a provider that cannot charge the city's currency (amounts are never converted)."""
    providers = set(operators.values())
    if "paygate" in providers and currency != PAYGATE_CURRENCY:
        raise PaymentConfigError(
            f"paygate charges {PAYGATE_CURRENCY} only; the city's currency is {currency}"
        )
    if "orange" in providers:
        wanted = settings.orange_currency
        if wanted == DEV_CURRENCY and settings.orange_country != "dev":
            raise PaymentConfigError(
                f"ORANGE_CURRENCY {DEV_CURRENCY} is the dev platform's play currency: set"
                f" ORANGE_CURRENCY={currency} for ORANGE_COUNTRY={settings.orange_country}"
            )
        if wanted not in {DEV_CURRENCY, currency}:
            raise PaymentConfigError(
                f"ORANGE_CURRENCY {wanted} is not the city's currency {currency}"
            )


def paygate_provider(settings: PaymentSettings) -> PayGateProvider:
    """Build the PayGateGlobal adapter (Flooz, T-Money) from PAYGATE_* settings."""
    _require("paygate", (("PAYGATE_AUTH_TOKEN", settings.paygate_auth_token),))
    return PayGateProvider(
        PayGateConfig(
            base_url=settings.paygate_base_url.rstrip("/"),
            auth_token=settings.paygate_auth_token,
            timeout_seconds=settings.paygate_timeout_seconds,
        )
    )


def orange_provider(
    settings: PaymentSettings, reference_of: Callable[[str], str | None]
) -> OrangeProvider:
    """Build the Orange Money Web Payment adapter from ORANGE_* settings."""
    _require(
        "orange",
        (
            ("ORANGE_CLIENT_ID", settings.orange_client_id),
            ("ORANGE_CLIENT_SECRET", settings.orange_client_secret),
            ("ORANGE_MERCHANT_KEY", settings.orange_merchant_key),
        ),
    )
    base = public_base_url(settings)
    provider = OrangeProvider(
        OrangeConfig(
            base_url=settings.orange_base_url.rstrip("/"),
            client_id=settings.orange_client_id,
            client_secret=settings.orange_client_secret,
            merchant_key=settings.orange_merchant_key,
            country=settings.orange_country,
            currency=settings.orange_currency,
            return_url=settings.orange_return_url or base,
            cancel_url=settings.orange_cancel_url or base,
            timeout_seconds=settings.orange_timeout_seconds,
        ),
        callback_url_builder(settings),
        reference_of,
    )
    # Orange refuses URLs over 120 characters: say so now, not at the first payment.
    notif_url = provider.notif_url("0" * 32)
    for env, url in (
        ("notif_url (PUBLIC_BASE_URL + PAYMENT_CALLBACK_TOKEN)", notif_url),
        ("ORANGE_RETURN_URL", settings.orange_return_url or base),
        ("ORANGE_CANCEL_URL", settings.orange_cancel_url or base),
    ):
        if len(url) > MAX_URL_CHARS:
            raise PaymentConfigError(
                f"the orange provider: {env} is {len(url)} characters, Orange accepts"
                f" {MAX_URL_CHARS} (shorten PUBLIC_BASE_URL or use a token of 16-24 characters)"
            )
    return provider


def build_providers(
    settings: PaymentSettings,
    wanted: set[str],
    connection: redis.Redis,
    jobs: JobScheduler,
    *,
    reference_of: Callable[[str], str | None] | None = None,
) -> dict[str, Provider]:
    """Build the adapters the operator table names (`reference_of`: an intent's reference)."""
    callback_url = callback_url_builder(settings)
    providers: dict[str, Provider] = {}
    for name in sorted(wanted):
        if name == "sandbox":
            providers[name] = SandboxProvider(
                connection,
                jobs,
                callback_url,
                settings.sandbox_callback_delay_seconds,
                callback_job=sandbox_callback,
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
        elif name == "paygate":
            providers[name] = paygate_provider(settings)
        elif name == "orange":
            providers[name] = orange_provider(settings, reference_of or (lambda _: None))
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


def _stored_reference(store: IntentStore) -> Callable[[str], str | None]:
    def reference_of(intent_id: str) -> str | None:
        intent = store.get(intent_id)
        return intent.provider_reference if intent is not None else None

    return reference_of


def _sms_service(container: runtime.Container) -> SmsSender | None:
    # A process wired without SMS (tests of payments alone) settles without receipts by SMS.
    found: SmsSender | None = container.find(SmsService)
    return found


def wire(
    container: runtime.Container,
    settings: PaymentSettings,
    *,
    engine: Engine,
    timezone: str = "UTC",
    short_code: str = "",
    currency: str | None = None,
    money: MoneyFormat | None = None,
) -> PaymentService:
    """Build and register PaymentStore, PaymentService, ReceiptVerifier and friends.

    `engine` is the payments database (built by the composition root); the civic Backend must
    be registered already.
    """
    operators = parse_operators(settings.payment_operators)
    check_operators(operators)
    if currency is not None:
        check_currency(operators, settings, currency)
    connection = container.get(redis.Redis)
    port = jobs_for(container, inline=settings.emulate_redis)
    jobs: JobScheduler = PaymentJobs(port)
    container.register(JobScheduler, jobs)  # type: ignore[type-abstract]
    store = PaymentStore(engine)
    intent_store = store.intents
    container.register(PaymentStore, store)
    codec = receipt_codec(settings)
    container.register(ReceiptCodec, codec)
    verifier = ReceiptVerifier(codec, store.receipts.receipt_fields)
    container.register(ReceiptVerifier, verifier)
    backend = container.get(Backend)  # type: ignore[type-abstract]
    book = ReceiptBook(store.receipts, verifier, backend)
    container.register(ReceiptBook, book)
    # SMS `RECU` asks for the sms port (sms cannot import payments).
    container.register(ReceiptDesk, book)  # type: ignore[type-abstract]
    # PAYMENT_CALLBACK_TOKEN: gateway.config refuses production without it and
    # gateway.callback_auth says at start-up which channels accept callbacks without a token.
    providers = build_providers(
        settings,
        set(operators.values()),
        connection,
        jobs,
        reference_of=_stored_reference(intent_store),
    )
    slow_push = slow_push_seconds(providers)
    job_timeout = max(DEFAULT_JOB_TIMEOUT, slow_push)
    service = PaymentService(
        store=store,
        providers=providers,
        backend=backend,
        sms=_sms_service(container),
        jobs=jobs,
        codec=codec,
        push_job=push_intent,
        callback_job=process_callback,
        config=PaymentsConfig(
            operators=operators,
            push_delay_seconds=settings.payment_push_delay_seconds,
            intent_ttl_seconds=settings.payment_intent_ttl_seconds,
            request_payment_ttl_seconds=settings.request_payment_ttl,
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
            money=money,
        ),
    )
    container.register(PaymentService, service)
    if not settings.emulate_redis:
        try:
            schedule_reconcile(port, settings.payment_reconcile_interval_seconds)
        except redis.RedisError:
            log.warning("could not schedule payment reconciliation (Redis down); cron can run it")
    return service
