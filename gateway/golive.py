"""Going live: everything production refuses, as one list (settings, database, providers).

Settings.production_problems() holds what the settings alone say; this module adds what only
the database and the configured providers can say: demo data loaded by `seed-demo`, and a city
currency a provider does not take. Start-up (`refuse_or_warn`, from the composition root of web
and worker) and `python -m gateway check` (`problems`) run the same three checks, so what the
command lists is what production refuses.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import redis
from sqlalchemy import exc
from sqlalchemy.engine import make_url

from civic.seed import demo_data
from civic.sql import make_engine
from gateway.config import ConfigError, Settings, refusal
from gateway.console.accounts import StaffStore
from gateway.redis_persistence import persistence_warning
from menus.loader import load_menus
from payments.config import PaymentConfigError, parse_operators
from payments.providers.base import Provider, refused_currencies
from payments.queues import PaymentJobs
from payments.wiring import build_providers
from runtime.jobs import InlineJobs
from runtime.sealing import DEVELOPMENT_KEY, CipherKeyError, Sealer

log = logging.getLogger(__name__)

READY: Final = "ready to go live"
PLAY_MONEY_BANNER: Final = """
################################################################################
#  PLAY MONEY: Guichet runs in DEVELOPMENT. No money moves, no SMS leaves.     #
#  Taxes are marked paid by the sandbox, receipts are printed, demo keys open  #
#  the API. `python -m gateway check` lists what production would refuse.      #
################################################################################"""

# The checklist production enforces, in the README's words ("Going live"): each line is one
# family of problems above. A test keeps the README's copy identical to this one.
CHECKLIST: Final = (
    "Set GUICHET_ENV=production.",
    "Set every secret, each at least 16 characters and each its own value: "
    "USSD_CALLBACK_TOKEN, SMS_CALLBACK_TOKEN, PAYMENT_CALLBACK_TOKEN, RECEIPT_KEY, OTP_KEY "
    "(and LOG_REF_KEY, AT_API_KEY, every provider secret): one value reused for two purposes "
    "is refused.",
    "Set API_KEYS from `python -m gateway hash-key`; the demo keys demo-agent-key and "
    "demo-portal-key and the demo-agent / demo-portal accounts are refused.",
    "Name a real provider for every operator in PAYMENT_OPERATORS: `:sandbox` is refused, and "
    "each provider must take the city's currency (menus.yaml `city.currency`).",
    "Send SMS for real: SMS_PROVIDER=africastalking with your AT_USERNAME (not `sandbox`) on "
    "the live AT_API_BASE_URL, or twilio, orange or infobip with every setting that provider "
    "needs (README: Aggregators); the console provider is refused.",
    "Point every outside service's URL (`*_URL`: AT_API_BASE_URL, DARAJA_BASE_URL, each "
    "adapter's base URL, CIVIC_PORTAL_URL) at the live system: loopback, fake and sandbox "
    "hosts are refused.",
    "Set PUBLIC_BASE_URL to the address providers call back.",
    "Turn the phone simulator off: SIMULATOR_ENABLED=0.",
    "Set PERSONAL_DATA_KEYS to a Fernet key of your own (it seals ID numbers, dates of "
    "birth and the numbers of queued SMS); the development key is refused.",
    "Use a real Redis (no GUICHET_EMULATE_REDIS) and a database without the demo city "
    "(never run `seed-demo` on it).",
    "On a Redis Cluster (REDIS_URL=redis+cluster://...) set QUEUE_REDIS_URL to a plain or "
    "Sentinel Redis: rq cannot run on a cluster.",
    "Create each staff member's console account (`python -m gateway users add`) and never "
    "the demo ones: agent@demo.city and supervisor@demo.city are refused; set METRICS_TOKEN "
    "or METRICS_CIDRS so /metrics is not public.",
)


def warnings(settings: Settings) -> list[str]:
    """Return what production would warn about without refusing (Redis persistence)."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        warning = persistence_warning(client)
    finally:
        client.close()
    return [warning] if warning else []


def problems(settings: Settings) -> list[str]:
    """Return every reason production would refuse `settings`, reading database and menus."""
    live = dataclasses.replace(settings, env="production")
    found = live.production_problems()
    found += personal_data_problems(live)
    found += database_problems(live, unreachable_is_problem=True)
    found += staff_problems(live, unreachable_is_problem=True)
    try:
        currency = load_menus(settings.menus_path).city.currency
        operators = parse_operators(settings.payment_operators)
        # Never connected (no provider pushes here); a cluster client would connect at once.
        client = redis.Redis()
        providers = build_providers(
            settings, set(operators.values()), client, PaymentJobs(InlineJobs(tick_seconds=None))
        )
    except (PaymentConfigError, ValueError) as error:
        found.append(f"PAYMENT_OPERATORS: {error}")
    else:
        found += refused_currencies(providers, operators, currency)
    return found


def personal_data_problems(settings: Settings) -> list[str]:
    """Return a line unless PERSONAL_DATA_KEYS holds real Fernet keys of this city."""
    keys = [k.strip() for k in settings.personal_data_keys.split(",") if k.strip()]
    if not keys:
        return [
            "PERSONAL_DATA_KEYS is missing (ID numbers, dates of birth and queued SMS numbers are "
            "sealed with it)"
        ]
    try:
        Sealer(keys)
    except CipherKeyError as error:
        return [f"PERSONAL_DATA_KEYS: {error}"]
    if DEVELOPMENT_KEY in keys:
        return ["PERSONAL_DATA_KEYS: holds the development key (published in the code)"]
    return []


def database_problems(settings: Settings, *, unreachable_is_problem: bool) -> list[str]:
    """Return a line when the back-office database holds demo data (SQL back office only)."""
    if settings.civic_backend != "sql":
        return []
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return []  # nothing seeded yet, and a check must not create the file
    engine = make_engine(
        settings.database_url,
        timeout=settings.civic_read_timeout,
        connect_timeout=settings.civic_connect_timeout,
    )
    try:
        found = demo_data(engine)
    except exc.SQLAlchemyError:
        if unreachable_is_problem:
            return ["DATABASE_URL: unreachable, so it could not be checked for demo data"]
        # A restart during a database outage must still serve polite ENDs (README: Resilience).
        log.warning("DATABASE_URL unreachable at start-up: not checked for demo data")
        return []
    finally:
        engine.dispose()
    return [f"DATABASE_URL: holds {found}; use a database seed-demo never touched"] if found else []


def staff_problems(settings: Settings, *, unreachable_is_problem: bool) -> list[str]:
    """Return a line when the console's demo accounts exist (their password is published)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return []
    engine = make_engine(settings.database_url, timeout=settings.civic_read_timeout)
    try:
        found = StaffStore(engine).demo_accounts()
    except exc.SQLAlchemyError:
        if unreachable_is_problem:
            return ["DATABASE_URL: unreachable, so it could not be checked for demo accounts"]
        return []
    finally:
        engine.dispose()
    if not found:
        return []
    return [
        f"staff accounts: {', '.join(found)} (demo accounts, password published in the README): "
        "`python -m gateway users disable <email>`"
    ]


def refuse_or_warn(
    settings: Settings,
    providers: Mapping[str, Provider],
    currency: str,
    redis_client: redis.Redis | None = None,
) -> None:
    """At start-up: raise ConfigError naming every problem in production, warn in development.

    Production also warns (never refuses: a managed Redis may persist in ways we cannot see)
    when Redis says it keeps nothing across a restart.
    """
    operators = parse_operators(settings.payment_operators)
    mismatched = refused_currencies(providers, operators, currency)
    if settings.env == "production":
        found = settings.production_problems()
        found += personal_data_problems(settings)
        found += database_problems(settings, unreachable_is_problem=False)
        found += staff_problems(settings, unreachable_is_problem=False)
        found += mismatched
        if found:
            raise ConfigError(refusal(found))
        warning = persistence_warning(redis_client) if redis_client is not None else None
        if warning:
            log.warning("%s", warning)
        return
    # Development keeps its embedded defaults; one warning says what they are.
    play = settings.play_money() + mismatched
    log.warning("PLAY MONEY (development): %s", "; ".join(play) if play else "demo settings")
