"""Safaricom Daraja STK push through fakes/daraja.py (outcomes by the amount's digits)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import requests

from fakes.daraja import FakeDaraja, stk_callback
from payments.model import FailureReason, Intent
from tests.payments.conftest import MPESA_PHONE, Payments
from tests.payments.contract.harness import AMBIGUOUS, SUCCESS, Harness

AMOUNTS = {
    SUCCESS: 25000,
    "1032 cancelled by user": 25001,
    "1 insufficient balance": 25002,
    "1037 DS timeout, no callback": 25003,
    "2001 wrong PIN": 25004,
    "1025 other": 25005,
    AMBIGUOUS: 25000,  # stkpushquery keeps answering "being processed" (500.001.1001)
}


class DarajaHarness(Harness):
    provider = "daraja"
    operator = "mpesa"
    phone = MPESA_PHONE
    failures: ClassVar[Mapping[str, FailureReason]] = {
        "1032 cancelled by user": FailureReason.CANCELLED,
        "1 insufficient balance": FailureReason.INSUFFICIENT_FUNDS,
        "1037 DS timeout, no callback": FailureReason.TIMEOUT,
        "2001 wrong PIN": FailureReason.WRONG_PIN,
        "1025 other": FailureReason.OTHER,
    }

    def start(self) -> None:
        self.fake = FakeDaraja().start()

    def stop(self) -> None:
        self.fake.stop()

    def settings(self) -> dict[str, Any]:
        state = self.fake.state
        return {
            "daraja_base_url": self.fake.url,
            "daraja_consumer_key": state.consumer_key,
            "daraja_consumer_secret": state.consumer_secret,
            "daraja_shortcode": state.shortcode,
            "daraja_passkey": state.passkey,
            "daraja_timeout_seconds": 1.0,
        }

    def script(self, outcome: str) -> int:
        # Until the customer answers, stkpushquery says "being processed".
        self.fake.state.processing = True
        self.ambiguous = outcome == AMBIGUOUS
        return AMOUNTS[outcome]

    def answer(self, payments: Payments, *, deliver: bool = True) -> None:
        if self.ambiguous:
            return  # no answer Daraja can tell about, no callback
        self.fake.state.processing = False
        if deliver:
            self.fake.deliver_callbacks()

    def _checkout(self, intent: Intent) -> Any:
        [checkout] = [
            c for c in self.fake.state.pushes if c.checkout_id == intent.provider_reference
        ]
        return checkout

    def replay(self, payments: Payments, intent: Intent) -> None:
        checkout = self._checkout(intent)
        url = checkout.request["CallBackURL"]
        assert requests.post(url, json=stk_callback(checkout), timeout=5).status_code == 200

    def forged(self, intent: Intent, *, succeeded: bool) -> tuple[str, str]:
        body: dict[str, Any] = {
            "MerchantRequestID": "29115-34620561-1",
            "CheckoutRequestID": intent.provider_reference,
            "ResultCode": 0 if succeeded else 1,
            "ResultDesc": "The service request is processed successfully."
            if succeeded
            else "The balance is insufficient for the transaction.",
        }
        if succeeded:
            body["CallbackMetadata"] = {
                "Item": [
                    {"Name": "Amount", "Value": float(intent.amount)},
                    {"Name": "MpesaReceiptNumber", "Value": "FORGED0001"},
                    {"Name": "PhoneNumber", "Value": int(intent.phone.lstrip("+"))},
                ]
            }
        path = f"/payments/daraja/callback/t/{self.token}?intent={intent.id}"
        return path, json.dumps({"Body": {"stkCallback": body}})

    def prompts(self, payments: Payments, intent: Intent) -> int:
        return sum(
            1 for c in self.fake.state.pushes if f"intent={intent.id}" in c.request["CallBackURL"]
        )

    def resolve(self, payments: Payments, intent: Intent) -> None:
        self.ambiguous = self.fake.state.processing = False


HARNESS = DarajaHarness
