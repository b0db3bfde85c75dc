"""A citizen's life in the gateway: real journeys (USSD, payment, OTP, SMS) on the test Redis
and a seeded SQLite back office, so the personal-data tests look at what the code really keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker

from fakes.daraja import FakeDaraja
from payments.queues import PAYMENTS_QUEUE
from runtime import keys
from sms.queues import SMS_QUEUE
from tests.conftest import UssdPhone
from tests.live_server import LiveServer
from tests.payments.conftest import Payments, payment_settings, payments

__all__ = ["payments"]

CITIZEN = "+243810000001"  # the demo citizen: seeded requests, sandbox payer
CHILD = "Zawadi Bahati"  # a name typed in the dossier, to find wherever it lands
MOTHER = "Furaha Bahati"
BIRTH_DATE = "03/04/2021"


@pytest.fixture
def app_config(
    app_config: dict[str, Any], live: LiveServer, fake_daraja: FakeDaraja
) -> dict[str, Any]:
    """Payments on (sandbox), the demo city seeded, SMS retried at once.

    One phone walks every journey within a second: more hops than the per-phone hop limit lets
    through in a minute, which is not what these tests are about.
    """
    return {
        **payment_settings(app_config, live, fake_daraja),
        "sms_retry_delays": "0,0,0",
        "rate_ussd_hops": "100/60",
    }


@dataclass
class Citizen:
    """Drive one phone through every journey that stores something about it."""

    app: Flask
    client: FlaskClient
    ussd: UssdPhone
    redis: redis.Redis
    payments: Payments
    phone: str = CITIZEN
    texts: int = 0

    def work(self) -> None:
        """Run the payments and SMS queues until both are empty."""
        for _ in range(3):
            queues = [
                Queue(keys.queue(n), connection=self.redis) for n in (PAYMENTS_QUEUE, SMS_QUEUE)
            ]
            SimpleWorker(queues, connection=self.redis).work(burst=True)

    def pay_a_tax(self) -> None:
        """USSD: pay the road tax 100001 with the sandbox operator."""
        self.ussd.dial(self.phone)
        self.ussd.type("1", "1", "100001", "1")
        assert self.ussd.type("2").end
        self.work()

    def pay_school_fees(self) -> None:
        """USSD: pay pupil 200002's school fees (tax list, kind 5) with the sandbox operator."""
        self.ussd.dial(self.phone)
        self.ussd.type("1", "5", "200002", "1")
        assert self.ussd.type("2").end
        self.work()

    def request_a_birth_certificate(self) -> None:
        """USSD: request a birth certificate, dossier typed, fee paid."""
        self.ussd.dial(self.phone)
        self.ussd.type("2", "1", "1", CHILD, BIRTH_DATE, "Goma", "97", MOTHER, "1", "1")
        assert self.ussd.type("2").end
        self.work()

    def book_an_appointment(self) -> None:
        """USSD: book the first free place at the health centre (menu 7)."""
        self.ussd.dial(self.phone)
        services = self.ussd.type("7", "1").body
        [option] = [
            line.partition(". ")[0] for line in services.splitlines() if "Centre de santé" in line
        ]
        self.ussd.type(option, "1", "1")
        assert self.ussd.type("1").end
        self.work()

    def session_ended(self) -> None:
        """Africa's Talking: the end-of-session notification of the last session."""
        response = self.client.post(
            "/ussd/africastalking/events",
            data={"sessionId": self.ussd.session_id, "status": "Success",
                  "phoneNumber": self.phone, "hopsCount": "3", "durationInMillis": "9000"},
        )  # fmt: skip
        assert response.get_json() == {"status": "accepted"}

    def otp(self) -> None:
        """Portal: send a one-time code to the phone."""
        response = self.client.post(
            "/api/v1/otp",
            json={"phone": self.phone, "purpose": "login"},
            headers={"Authorization": "Bearer demo-portal-key"},
        )
        assert response.status_code == 202, response.get_data(as_text=True)
        self.work()

    def text(self, body: str) -> None:
        """SMS: the phone texts the city."""
        self.texts += 1
        response = self.client.post(
            "/sms/africastalking/inbound",
            data={"from": self.phone, "to": "12345", "text": body, "date": "2025-01-31 10:00:00",
                  "id": f"in-{self.texts}", "linkId": "", "networkCode": "63001"},
        )  # fmt: skip
        assert response.status_code == 200
        self.work()

    def live_everything(self) -> None:
        """Every journey that keeps something: USSD, payment, document request, OTP, SMS."""
        self.pay_a_tax()
        self.session_ended()
        self.pay_school_fees()
        self.request_a_birth_certificate()
        self.book_an_appointment()
        self.otp()
        self.text("LANGUE en")
        self.text("STOP")
        self.text("STATUT 10000012")
        self.ussd.dial(self.phone)  # a session left open (its resume snapshot)
        self.ussd.type("2")


@pytest.fixture
def citizen(app: Flask, payments: Payments, ussd: UssdPhone, redis_client: redis.Redis) -> Citizen:
    """Return the demo citizen's phone on the served app."""
    return Citizen(app, app.test_client(), ussd, redis_client, payments)
