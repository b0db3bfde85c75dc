"""The composition root: build every long-lived object once from Settings."""

from __future__ import annotations

from urllib.parse import quote

import redis

import runtime
from civic.http import HttpBackend
from civic.ports import Backend
from civic.sql import SqlBackend, make_engine
from gateway import golive
from gateway.auth import ApiKeyring
from gateway.callback_auth import CallbackGate
from gateway.config import ConfigError, Settings
from gateway.jobs import EffectEnqueuer
from gateway.limits import ApiLimits
from gateway.logsetup import ref_key
from gateway.metrics import Metrics
from gateway.redis_client import build_queue_redis, build_redis
from gateway.ussd_events import SessionEvents
from menus.hop import HopHandler
from menus.loader import load_menus
from menus.model import MenuSpec
from menus.registry import Enqueuer
from payments.config import parse_operators
from payments.numbering import NumberingPlan
from payments.service import PaymentService
from payments.store import SQL_TIMEOUT_SECONDS
from payments.wiring import public_base_url
from payments.wiring import wire as wire_payments
from personal_data.collectors import Stores
from personal_data.retention import RetentionPolicy, RetentionSweeper
from runtime import keys
from runtime.guesses import GuessLimiter
from runtime.jobs import QueueConnection, jobs_for
from runtime.masking import phone_ref
from runtime.ratelimit import Rate
from runtime.sealing import Sealer
from sessions.store import SessionStore
from sms.derived_keys import message_sealer, preference_ref
from sms.wiring import SmsOptions
from sms.wiring import wire as wire_sms


def build(settings: Settings, *, redis_client: redis.Redis | None = None) -> runtime.Container:
    """Build the service container for a web or worker process and install it."""
    container = runtime.Container()
    container.register(Settings, settings)
    keys.use_prefix(settings.redis_prefix)  # before any store names a key
    client = redis_client if redis_client is not None else build_redis(settings)
    container.register(redis.Redis, client)
    # rq's queues: their own Redis when REDIS_URL is a cluster (or the operator says so).
    queue_client = client if redis_client is not None else build_queue_redis(settings, client)
    container.register(QueueConnection, QueueConnection(queue_client))
    container.register(Metrics, Metrics(client, flush_seconds=settings.metrics_flush_seconds))
    container.register(ApiKeyring, ApiKeyring.from_settings(settings))
    container.register(CallbackGate, CallbackGate.from_settings(settings))
    container.register(ApiLimits, ApiLimits.from_settings(settings, client))
    # Each package wires its own services below; keep one function per package.
    _wire_civic(container, settings)
    _wire_jobs(container, settings)
    _wire_menus(container, settings)
    _wire_sms(container, settings)
    _wire_payments(container, settings)
    _wire_personal_data(container, settings)
    _refuse_play_money(container, settings)
    return runtime.install(container)


def _refuse_play_money(container: runtime.Container, settings: Settings) -> None:
    # Last: the providers and the city's currency are known. Production raises, development
    # warns once per process that it is play money.
    service = container.find(PaymentService)
    providers = service.providers if service is not None else {}
    golive.refuse_or_warn(
        settings,
        providers,
        container.get(MenuSpec).city.currency,
        redis_client=container.get(redis.Redis),
    )


def personal_data_stores(settings: Settings, client: redis.Redis) -> Stores:
    """Return where personal data lives, for retention, export and erasure."""
    key = ref_key(settings)
    return Stores(
        engine=make_engine(settings.database_url, timeout=settings.civic_read_timeout),
        redis=client,
        # The SMS log's cipher: it also opens numbers queued before PERSONAL_DATA_KEYS sealed them.
        cipher=message_sealer(settings.personal_data_keys, settings.otp_key),
        phone_ref=lambda phone: phone_ref(phone, key),
        civic_sql=settings.civic_backend == "sql",
        preference_ref=preference_ref(settings.otp_key),
    )


def retention_policy(settings: Settings) -> RetentionPolicy:
    """Return the retention settings as the sweeper takes them."""
    return RetentionPolicy(
        requests_days=settings.retention_requests_days,
        payments_days=settings.retention_payments_days,
        appointments_days=settings.retention_appointments_days,
        messages_days=settings.retention_messages_days,
        events_days=settings.retention_events_days,
    )


def _wire_personal_data(container: runtime.Container, settings: Settings) -> None:
    # The retention job's sweeper; the worker schedules it (gateway/worker.py).
    stores = personal_data_stores(settings, container.get(redis.Redis))
    container.register(RetentionSweeper, RetentionSweeper(stores, retention_policy(settings)))


def _wire_jobs(container: runtime.Container, settings: Settings) -> None:
    # Before the menus: the HopHandler takes the Enqueuer. Emulation has no worker: run inline.
    # One job port for every package (sms and payments wiring find it in the container).
    enqueuer: Enqueuer = EffectEnqueuer(jobs_for(container, inline=settings.emulate_redis))
    # Enqueuer is a Protocol: mypy refuses abstract types as keys, the container does not.
    container.register(Enqueuer, enqueuer)  # type: ignore[type-abstract]


def _wire_menus(container: runtime.Container, settings: Settings) -> None:
    # menus.yaml is parsed and compiled once here; a bad file stops the process at start-up.
    spec = load_menus(settings.menus_path)
    container.register(MenuSpec, spec)
    ttl = settings.ussd_session_ttl_seconds or spec.settings.session_ttl_seconds
    store = SessionStore(
        container.get(redis.Redis),
        ttl_seconds=ttl,
        resume_window_seconds=spec.settings.resume_window_seconds,
        lock_wait_seconds=settings.ussd_lock_wait_seconds,
        hop_rate=Rate.parse(settings.rate_ussd_hops),
    )
    container.register(SessionStore, store)
    enqueuer = container.get(Enqueuer)  # type: ignore[type-abstract]
    container.register(HopHandler, HopHandler(spec, store, enqueuer, container))
    events = SessionEvents(
        container.get(redis.Redis), region=spec.city.country, maxlen=settings.ussd_events_max
    )
    container.register(SessionEvents, events)


def _wire_sms(container: runtime.Container, settings: Settings) -> None:
    # After the menus: the city's country and USSD code come from menus.yaml.
    spec = container.get(MenuSpec)
    options = SmsOptions(
        provider=settings.sms_provider,
        templates_path=settings.sms_templates_path,
        country=spec.city.country,
        short_code=spec.service_code,
        # --- city pack: SMS go to the pack's countries unless SMS_ALLOWED_COUNTRIES says ---
        allowed_countries=settings.sms_allowed_countries or ",".join(spec.city.sms_countries),
        daily_budget=settings.sms_daily_budget,
        replies_per_hour=settings.sms_replies_per_hour,
        retry_delays=settings.sms_retry_delays,
        hold_seconds=settings.sms_hold_seconds,
        at_username=settings.at_username,
        at_api_key=settings.at_api_key,
        at_sender_id=settings.at_sender_id,
        at_api_base_url=settings.at_api_base_url,
        at_timeout_seconds=settings.at_timeout_seconds,
        twilio_account_sid=settings.twilio_account_sid,
        twilio_auth_token=settings.twilio_auth_token,
        twilio_from=settings.twilio_from,
        twilio_api_base_url=settings.twilio_api_base_url,
        orange_sms_base_url=settings.orange_sms_base_url,
        orange_sms_client_id=settings.orange_sms_client_id,
        orange_sms_client_secret=settings.orange_sms_client_secret,
        orange_sms_sender=settings.orange_sms_sender,
        orange_sms_sender_name=settings.orange_sms_sender_name,
        infobip_base_url=settings.infobip_base_url,
        infobip_api_key=settings.infobip_api_key,
        infobip_from=settings.infobip_from,
        http_timeout_seconds=settings.sms_http_timeout_seconds,
        delivery_url=sms_delivery_url(settings),
        otp_key=settings.otp_key,
        personal_data_keys=settings.personal_data_keys,
        inbound_rate=settings.rate_sms_inbound,
        otp_rate=settings.rate_otp_sends,
        sending_lease_seconds=settings.sms_sending_lease_seconds,
        sweep_seconds=settings.sms_sweep_seconds,
        inline_jobs=settings.emulate_redis,
        production=settings.env == "production",
        database_url=settings.database_url,
    )
    wire_sms(container, options)


def sms_delivery_url(settings: Settings) -> str:
    """Return the delivery-report URL handed to the SMS provider (token as a path segment).

    Empty without PUBLIC_BASE_URL: no provider can reach this machine's default address, and
    Twilio refuses a message whose StatusCallback it cannot use.
    """
    if not settings.public_base_url:
        return ""
    secret = (
        f"/t/{quote(settings.sms_callback_token, safe='')}" if settings.sms_callback_token else ""
    )
    return f"{public_base_url(settings)}/sms/{settings.sms_provider}/delivery{secret}"


def _wire_payments(container: runtime.Container, settings: Settings) -> None:
    # After civic and sms (it settles with the Backend and sends receipts through SmsService).
    spec = container.get(MenuSpec)
    wire_payments(
        container,
        settings,
        engine=make_engine(settings.database_url, timeout=SQL_TIMEOUT_SECONDS),
        timezone=spec.city.timezone,
        short_code=spec.service_code,
        currency=spec.city.currency,
        money=spec.city.money_format,  # city pack: SMS write amounts as the screens do
    )
    # City pack: without operators fees are paid at the counter; menus must not offer payment.
    if not parse_operators(settings.payment_operators):
        paying = sorted(
            s.id for s in spec.screens.values() if str(s.action).startswith("payments.")
        )
        if paying:
            raise ConfigError(
                f"PAYMENT_OPERATORS is empty (fees at the counter) but {spec.source} pays on "
                f"screens {', '.join(paying[:3])}: name operators or use the city's menus"
            )
    # The payment screen lists the caller's operator first (payments/numbering.yaml).
    container.register(NumberingPlan, NumberingPlan.load(spec.city.country))


def _wire_civic(container: runtime.Container, settings: Settings) -> None:
    # Nothing connects here: the first call opens the database or the portal session.
    backend: Backend
    if settings.civic_backend == "http":
        backend = HttpBackend(
            settings.civic_portal_url,
            token=settings.civic_portal_token,
            connect_timeout=settings.civic_connect_timeout,
            read_timeout=settings.civic_read_timeout,
        )
    else:
        backend = SqlBackend.from_url(
            settings.database_url,
            timeout=settings.civic_read_timeout,
            connect_timeout=settings.civic_connect_timeout,
            cipher=Sealer.from_setting(settings.personal_data_keys),
        )
    container.register(Backend, backend)  # type: ignore[type-abstract]
    # The privacy rule's guess budget (civic/privacy.py), shared by USSD and SMS lookups.
    rate = Rate.parse(settings.rate_request_guesses)
    container.register(GuessLimiter, GuessLimiter(container.get(redis.Redis), rate))
