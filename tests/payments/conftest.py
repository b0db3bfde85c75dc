"""Payments fixtures: a seeded database, our app served on 127.0.0.1 (providers call it back),
a fake Daraja, and a helper that creates assessments, starts payments and runs the worker."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue, SimpleWorker
from sqlalchemy import insert, select

from civic import sql as civic_sql
from civic.ports import Assessment
from civic.seed import seed_demo
from civic.sql import SqlBackend
from fakes.daraja import FakeDaraja
from gateway.schema import migrate_payments
from payments.model import Intent
from payments.providers.sandbox import SandboxProvider
from payments.queues import PAYMENTS_QUEUE
from payments.service import PaymentService, StartResult
from payments.store import PaymentStore
from payments.tables import utcnow
from runtime import keys
from sms.store import Message, MessageStore
from tests.live_server import LiveServer

CALLBACK_TOKEN = "test-callback-token"
RECEIPT_KEY = "test-receipt-key-0123456789abcdef"
SANDBOX_PHONE = "+243810000001"
MPESA_PHONE = "+254708374149"


@pytest.fixture
def app_config(
    app_config: dict[str, Any], live: LiveServer, fake_daraja: FakeDaraja
) -> dict[str, Any]:
    """Return settings with payments on: mpesa through Daraja, airtel through the sandbox."""
    return payment_settings(app_config, live, fake_daraja)


def payment_settings(
    app_config: dict[str, Any], live: LiveServer, fake_daraja: FakeDaraja
) -> dict[str, Any]:
    """Seed the demo city and return `app_config` with payments on (other suites reuse it)."""
    seed_demo(app_config["database_url"])
    migrate_payments(app_config["database_url"])
    state = fake_daraja.state
    return {
        **app_config,
        "payment_operators": "mpesa:daraja,airtel:sandbox",
        "payment_push_delay_seconds": 0.0,
        "sandbox_callback_delay_seconds": 0.0,
        "payment_reconcile_interval_seconds": 0.0,
        "payment_callback_token": CALLBACK_TOKEN,
        "receipt_key": RECEIPT_KEY,
        "public_base_url": live.url,
        "daraja_base_url": fake_daraja.url,
        "daraja_consumer_key": state.consumer_key,
        "daraja_consumer_secret": state.consumer_secret,
        "daraja_shortcode": state.shortcode,
        "daraja_passkey": state.passkey,
        "daraja_timeout_seconds": 1.0,
    }


@dataclass
class Payments:
    """Drive payments like the USSD action and the worker do."""

    app: Flask
    redis: redis.Redis
    fake: FakeDaraja

    @property
    def service(self) -> PaymentService:
        return self.app.extensions["guichet"].get(PaymentService)

    @property
    def store(self) -> PaymentStore:
        return self.service.store

    @property
    def backend(self) -> SqlBackend:
        return SqlBackend.from_url(self.app.config["SETTINGS"].database_url)

    @property
    def sandbox(self) -> SandboxProvider:
        provider = self.service.providers["sandbox"]
        assert isinstance(provider, SandboxProvider)
        return provider

    def assessment(self, amount: int, *, paid: bool = False, currency: str = "CDF") -> Assessment:
        """Insert a road-tax assessment of `amount` (CDF unless told) and return it."""
        reference = str(900000 + uuid.uuid4().int % 99999)
        backend = self.backend
        with backend.engine.begin() as conn:
            conn.execute(
                insert(civic_sql.assessments).values(
                    id=f"road-{reference}",
                    tax_code="road",
                    reference=reference,
                    amount=amount,
                    currency=currency,
                    period="2026",
                    due_date=date(2026, 12, 31),
                    paid=paid,
                )
            )
        found = backend.get_assessment(f"road-{reference}")
        backend.dispose()
        assert found is not None
        return found

    def start(
        self,
        amount: int | Assessment,
        *,
        operator: str = "airtel",
        session: str | None = None,
        phone: str | None = None,
    ) -> StartResult:
        """Confirm a payment as the USSD action does, then queue its push job."""
        assessment = self.assessment(amount) if isinstance(amount, int) else amount
        result = self.service.start(
            session_id=session or f"ATUid_{uuid.uuid4().hex}",
            assessment=assessment,
            phone=phone or (MPESA_PHONE if operator == "mpesa" else SANDBOX_PHONE),
            operator=operator,
            lang="fr",
        )
        if result.intent is not None:
            self.service.schedule_push(result.intent.id)
        return result

    def work(self) -> None:
        """Run the payments queue until it is empty (a real rq worker, burst mode)."""
        queue = Queue(keys.queue(PAYMENTS_QUEUE), connection=self.redis)
        SimpleWorker([queue], connection=self.redis).work(burst=True)

    def intent(self, intent_id: str) -> Intent:
        found = self.store.intents.get(intent_id)
        assert found is not None
        return found

    def paid(self, assessment_id: str) -> bool:
        backend = self.backend
        found = backend.get_assessment(assessment_id)
        backend.dispose()
        assert found is not None
        return found.paid

    def civic_payments(self, assessment_id: str) -> list[Any]:
        backend = self.backend
        with backend.engine.connect() as conn:
            rows = conn.execute(
                select(civic_sql.payments).where(
                    civic_sql.payments.c.assessment_id == assessment_id
                )
            ).all()
        backend.dispose()
        return list(rows)

    def sms(self, key: str) -> Message | None:
        """Return the SMS queued with idempotency key `key` (payment-receipt:<id>, ...)."""
        messages = self.app.extensions["guichet"].get(MessageStore)
        message_id = messages.existing(key)
        return messages.get(message_id) if message_id else None

    def later(self, seconds: float) -> datetime:
        """Return a reconciliation clock `seconds` from now."""
        return utcnow() + timedelta(seconds=seconds)


@pytest.fixture
def payments(
    app: Flask, live: LiveServer, redis_client: redis.Redis, fake_daraja: FakeDaraja
) -> Payments:
    """Return the payments driver on the served app."""
    live.app = app
    return Payments(app, redis_client, fake_daraja)
