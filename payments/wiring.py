"""Build the payments services from settings; called by gateway.container._wire_payments."""

from __future__ import annotations

import logging
import os
from typing import Final
from urllib.parse import quote, urlencode

import redis

import runtime
from civic.ports import Backend
from civic.sql import SqlBackend
from payments.config import PaymentConfigError, PaymentsConfig, PaymentSettings, parse_operators
from payments.jobs import schedule_reconcile
from payments.providers.base import Provider
from payments.providers.daraja import DarajaConfig, DarajaProvider
from payments.providers.sandbox import SandboxProvider
from payments.queues import InlineJobs, JobScheduler, RqJobs
from payments.receipts import ReceiptCodec, ReceiptVerifier
from payments.service import PaymentService, SmsSender
from payments.store import PaymentStore, build_engine

log = logging.getLogger(__name__)

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
        else:
            raise PaymentConfigError(f"PAYMENT_OPERATORS names unknown provider {name!r}")
    return providers


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
    service = PaymentService(
        store=store,
        providers=build_providers(settings, set(operators.values()), connection, jobs),
        backend=backend,
        sms=_sms_service(container),
        jobs=jobs,
        codec=codec,
        config=PaymentsConfig(
            operators=operators,
            push_delay_seconds=settings.payment_push_delay_seconds,
            intent_ttl_seconds=settings.payment_intent_ttl_seconds,
            request_payment_ttl_seconds=settings.request_payment_ttl,
            reconcile_after_seconds=settings.payment_reconcile_after_seconds,
            stale_push_seconds=max(60.0, 3 * settings.daraja_timeout_seconds),
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
