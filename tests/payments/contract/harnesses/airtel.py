"""Airtel Money Open API through fakes/airtel.py, with callback authentication (`hash`) on."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from fakes.airtel import FakeAirtel, Outcomes, airtel_money_id, callback_hash
from payments.model import FailureReason, Intent
from tests.payments.conftest import Payments
from tests.payments.contract.harness import AMBIGUOUS, SUCCESS, Harness

MSISDN = "970000001"  # national number: Airtel wants no country code
CALLBACK_SECRET = "test-airtel-callback-secret"
OUTCOMES = {
    SUCCESS: Outcomes.SUCCESS,
    "DP00800001005 PIN not entered": Outcomes.PIN_NOT_ENTERED,
    "DP00800001008 refused": Outcomes.REFUSED,
    "DP00800001007 not enough balance": Outcomes.INSUFFICIENT_FUNDS,
    "DP00800001002 incorrect PIN": Outcomes.WRONG_PIN,
    "DP00800001003 over limit": Outcomes.OVER_LIMIT,
    "DP00800001024 timed out": Outcomes.TIMED_OUT,
    "TE expired, no callback": Outcomes.EXPIRED,
    AMBIGUOUS: Outcomes.AMBIGUOUS,  # TA, no callback
}


class AirtelHarness(Harness):
    provider = "airtel"
    operator = "airtel"
    phone = f"+243{MSISDN}"
    failures: ClassVar[Mapping[str, FailureReason]] = {
        "DP00800001005 PIN not entered": FailureReason.CANCELLED,
        "DP00800001008 refused": FailureReason.CANCELLED,
        "DP00800001007 not enough balance": FailureReason.INSUFFICIENT_FUNDS,
        "DP00800001002 incorrect PIN": FailureReason.WRONG_PIN,
        "DP00800001003 over limit": FailureReason.OTHER,
        "DP00800001024 timed out": FailureReason.TIMEOUT,
        "TE expired, no callback": FailureReason.TIMEOUT,
    }

    def start(self) -> None:
        # The callback URL is set once on the Airtel app ("in the portal"), not per payment.
        self.fake = FakeAirtel(
            callback_url=f"{self.live_url}/payments/airtel/callback/t/{self.token}",
            callback_secret=CALLBACK_SECRET,
        ).start()

    def stop(self) -> None:
        self.fake.stop()

    def settings(self) -> dict[str, Any]:
        state = self.fake.state
        return {
            "airtel_base_url": self.fake.url,
            "airtel_client_id": state.client_id,
            "airtel_client_secret": state.client_secret,
            "airtel_country": state.country,
            "airtel_currency": state.currency,
            "airtel_callback_secret": CALLBACK_SECRET,
            "airtel_timeout_seconds": 1.0,
        }

    def script(self, outcome: str) -> int:
        self.fake.script(MSISDN, OUTCOMES[outcome])
        return 25000

    def answer(self, payments: Payments, *, deliver: bool = True) -> None:
        if not deliver:
            with self.fake.state.lock:
                for payment in self.fake.state.payments.values():
                    payment.drop_callback = True
        self.fake.complete()

    def replay(self, payments: Payments, intent: Intent) -> None:
        assert self.fake.post_callback(intent.id) == 200

    def forged(self, intent: Intent, *, succeeded: bool) -> tuple[str, str]:
        # The forger holds the token and even the hash secret: only the enquiry can stop it.
        transaction = {
            "id": intent.id,
            "message": "Paid CDF 25,000" if succeeded else "Not enough balance.",
            "status_code": "TS" if succeeded else "TF",
            "airtel_money_id": airtel_money_id(),
        }
        body = {"transaction": transaction, "hash": callback_hash(CALLBACK_SECRET, transaction)}
        return f"/payments/airtel/callback/t/{self.token}", json.dumps(body)

    def prompts(self, payments: Payments, intent: Intent) -> int:
        # Counted by phone and reference, not by id: a retry under a new id would be a charge.
        with self.fake.state.lock:
            return sum(
                1
                for p in self.fake.state.payments.values()
                if p.request["subscriber"]["msisdn"] == MSISDN
                and intent.assessment_reference in p.request["reference"]
            )

    def resolve(self, payments: Payments, intent: Intent) -> None:
        self.fake.settle(intent.id, Outcomes.SUCCESS)


HARNESS = AirtelHarness
