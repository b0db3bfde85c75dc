"""Build the SMS layer's long-lived objects once and register them in the container."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine, event

import runtime
from civic.sql import make_engine
from runtime.jobs import jobs_for
from runtime.ratelimit import Rate
from sms.callbacks import CallbackInbox
from sms.delivery import DeliveryPolicy, Dispatcher
from sms.derived_keys import message_sealer, preference_ref
from sms.inbound import InboundRouter
from sms.jobs import deliver, deliver_ready, handle_delivery_report, handle_inbound
from sms.message_log import MessageLog
from sms.otp import OtpService, resolve_key
from sms.phones import PhonePolicy
from sms.preference_store import PreferenceStore
from sms.preferences import Preferences
from sms.providers.africastalking import AfricasTalkingProvider
from sms.providers.base import SmsProvider
from sms.providers.console import ConsoleProvider
from sms.providers.infobip import InfobipProvider
from sms.providers.orange import OrangeSmsProvider
from sms.providers.twilio import TwilioProvider
from sms.queues import DeliveryQueue, InlineDeliveryQueue, RqDeliveryQueue
from sms.recovery import Recovery
from sms.service import SmsService
from sms.store import MessageStore
from sms.sweeper import Sweeper
from sms.templates import TemplateBook, load_strict

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmsOptions:
    """The settings the SMS layer reads (filled from gateway.config.Settings)."""

    provider: str
    templates_path: str
    country: str  # the city's region: default destination and parsing region
    short_code: str  # the USSD code quoted in replies
    allowed_countries: str = ""
    daily_budget: int = 20
    replies_per_hour: int = 10
    retry_delays: str = "10,60,300,900"
    hold_seconds: int = 900
    at_username: str = "sandbox"
    at_api_key: str = ""
    at_sender_id: str = ""
    at_api_base_url: str = "https://api.africastalking.com"
    at_timeout_seconds: float = 10.0
    # Twilio, Orange SMS API, Infobip (sms/providers/*): their HTTP calls share one timeout.
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_api_base_url: str = "https://api.twilio.com"
    orange_sms_base_url: str = "https://api.orange.com"
    orange_sms_client_id: str = ""
    orange_sms_client_secret: str = ""
    orange_sms_sender: str = ""
    orange_sms_sender_name: str = ""
    infobip_base_url: str = ""
    infobip_api_key: str = ""
    infobip_from: str = ""
    http_timeout_seconds: float = 10.0
    delivery_url: str = ""  # where the provider posts delivery reports (built by the edge)
    otp_key: str = ""
    personal_data_keys: str = ""  # seal the numbers of queued messages (runtime.sealing)
    inbound_rate: str = "30/3600"  # inbound SMS kept per phone (runtime.ratelimit syntax)
    otp_rate: str = "6/3600"  # OTP codes per phone, every purpose
    sending_lease_seconds: float = 60.0
    sweep_seconds: float = 60.0
    inline_jobs: bool = False
    production: bool = False
    database_url: str = "sqlite:///var/guichet.db"  # the message log and preferences


def build_provider(options: SmsOptions, client: redis.Redis) -> SmsProvider:
    """Return the configured provider."""
    if options.provider == "africastalking":
        return AfricasTalkingProvider(
            username=options.at_username,
            api_key=options.at_api_key,
            api_root=options.at_api_base_url,
            timeout_seconds=options.at_timeout_seconds,
        )
    if options.provider == "twilio":
        return TwilioProvider(
            account_sid=options.twilio_account_sid,
            auth_token=options.twilio_auth_token,
            sender=options.twilio_from,
            api_base_url=options.twilio_api_base_url,
            status_callback=options.delivery_url,
            timeout_seconds=options.http_timeout_seconds,
        )
    if options.provider == "orange":
        return OrangeSmsProvider(
            client_id=options.orange_sms_client_id,
            client_secret=options.orange_sms_client_secret,
            sender=options.orange_sms_sender,
            sender_name=options.orange_sms_sender_name,
            base_url=options.orange_sms_base_url,
            notify_url=options.delivery_url,
            timeout_seconds=options.http_timeout_seconds,
        )
    if options.provider == "infobip":
        return InfobipProvider(
            base_url=options.infobip_base_url,
            api_key=options.infobip_api_key,
            sender=options.infobip_from,
            notify_url=options.delivery_url,
            timeout_seconds=options.http_timeout_seconds,
        )
    return ConsoleProvider(client, echo_text=not options.production)


def provider_timeout(options: SmsOptions) -> float:
    """Return the HTTP timeout of one call to the configured provider."""
    if options.provider in ("twilio", "orange", "infobip"):
        return options.http_timeout_seconds
    return options.at_timeout_seconds


def log_engine(database_url: str) -> Engine:
    """Return the engine of the message log and preferences (civic's timeouts and WAL).

    On SQLite each commit also skips its fsync (`synchronous=NORMAL`, safe in WAL mode): a
    row survives the process dying, not the machine losing power. One fsync per accepted
    SMS would cap a broadcast at a few hundred a second (bench/README.md, SMS pipeline).
    PostgreSQL, the production database, keeps its own durable commits.
    """
    engine = make_engine(database_url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_normal_sync)
    return engine


def _sqlite_normal_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def wire(container: runtime.Container, options: SmsOptions) -> None:
    """Register the templates, SmsService, Dispatcher, InboundRouter, OtpService and more."""
    client = container.get(redis.Redis)
    container.register(SmsOptions, options)  # the short code quoted in alerts (request_alerts)
    book = load_strict(options.templates_path)  # a broken template file stops the start-up
    jobs = jobs_for(container, inline=options.inline_jobs)
    queue: DeliveryQueue = (
        InlineDeliveryQueue(jobs, deliver=deliver, drain=deliver_ready)
        if options.inline_jobs
        else RqDeliveryQueue(jobs, client, deliver=deliver, drain=deliver_ready)
    )
    store = MessageStore(client)
    # Nothing connects here: the tables are created at the first write (MessageLog.migrate).
    engine = log_engine(options.database_url)
    message_log = MessageLog(engine)
    # PERSONAL_DATA_KEYS seal the queued numbers (old ones also open with the OTP_KEY derived
    # key); OTP_KEY keys the preferences' refs (sms.derived_keys).
    seal = message_sealer(options.personal_data_keys, options.otp_key)
    preferences = Preferences(client, PreferenceStore(engine), preference_ref(options.otp_key))
    regions = [r for r in options.allowed_countries.split(",") if r.strip()] or [options.country]
    sms = SmsService(
        book=book,
        store=store,
        preferences=preferences,
        phones=PhonePolicy(regions),
        queue=queue,
        daily_budget=options.daily_budget,
        log=message_log,
        seal=seal,
    )
    provider = build_provider(options, client)
    dispatcher = Dispatcher(
        store=store,
        provider=provider,
        queue=queue,
        client=client,
        # Other providers send from their own setting (TWILIO_FROM, ORANGE_SMS_SENDER, ...).
        sender_id=(options.at_sender_id or None) if options.provider == "africastalking" else None,
        policy=DeliveryPolicy.from_text(
            options.retry_delays,
            options.hold_seconds,
            provider_timeout(options),
            options.sending_lease_seconds,
        ),
        log=message_log,
    )
    # DeliveryQueue is a Protocol: mypy refuses abstract types as keys, the container does not.
    container.register(DeliveryQueue, queue)  # type: ignore[type-abstract]
    recovery = Recovery(
        log=message_log,
        store=store,
        book=book,
        queue=queue,
        seal=seal,
        client=client,
        grace_seconds=options.sweep_seconds,
    )
    container.register(Recovery, recovery)
    container.register(MessageLog, message_log)
    container.register(
        Sweeper,
        Sweeper(store, queue, grace_seconds=options.sweep_seconds, recovery=recovery),
    )
    container.register(TemplateBook, book)
    container.register(MessageStore, store)
    container.register(Preferences, preferences)
    container.register(SmsService, sms)
    container.register(Dispatcher, dispatcher)
    container.register(
        CallbackInbox,
        CallbackInbox(
            client,
            queue,
            options.country,
            jobs={"inbound": handle_inbound, "delivery": handle_delivery_report},
            inbound_rate=Rate.parse(options.inbound_rate),
        ),
    )
    container.register(
        InboundRouter,
        InboundRouter(
            sms=sms,
            preferences=preferences,
            services=container,
            short_code=options.short_code,
            replies_per_hour=options.replies_per_hour,
        ),
    )
    container.register(
        OtpService,
        OtpService(
            client=client,
            sms=sms,
            key=resolve_key(options.otp_key, client),
            phone_rate=Rate.parse(options.otp_rate),
        ),
    )
