"""Orange Money Web Payment through fakes/orange.py: a payment page sent by SMS, notif_token.

No prompt reaches the handset: the citizen gets the page's link by SMS (`pays_by_link`) and
pays there; a "prompt" is one web payment, a page someone could pay. The notification goes to
the notif_url given with each payment and is authenticated by that payment's notif_token.
The dev platform's play currency (OUV) charges the city's CDF amounts as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from fakes.orange import EXPIRY_SECONDS, FakeOrange, WebPayment
from payments.model import FailureReason, Intent
from tests.payments.conftest import Payments
from tests.payments.contract.harness import AMBIGUOUS, SUCCESS, Harness

OUTCOMES = {
    SUCCESS: "SUCCESS",
    "FAILED on the payment page": "FAILED",
    "EXPIRED: never paid in 10 minutes, no notification": "EXPIRED",
    AMBIGUOUS: "PENDING",  # the page is open; transactionstatus says PENDING until answer()
}


class OrangeHarness(Harness):
    provider = "orange"
    operator = "orange"
    phone = "+243890000001"  # Orange RDC prefix 89
    pays_by_link = True
    failures: ClassVar[Mapping[str, FailureReason]] = {
        "FAILED on the payment page": FailureReason.OTHER,  # Orange does not say why
        "EXPIRED: never paid in 10 minutes, no notification": FailureReason.TIMEOUT,
    }

    def start(self) -> None:
        self.fake = FakeOrange().start()

    def stop(self) -> None:
        self.fake.stop()

    def settings(self) -> dict[str, Any]:
        state = self.fake.state
        return {
            "orange_base_url": self.fake.url,
            "orange_client_id": state.client_id,
            "orange_client_secret": state.client_secret,
            "orange_merchant_key": state.merchant_key,
            "orange_timeout_seconds": 1.0,
        }

    def script(self, outcome: str) -> int:
        with self.fake.state.lock:
            self.fake.state.next_outcomes.append(OUTCOMES[outcome])
        return 25000

    def answer(self, payments: Payments, *, deliver: bool = True) -> None:
        opened = self.fake.settle()
        if any(p.outcome == "EXPIRED" for p in opened):
            self.fake.advance(EXPIRY_SECONDS)  # nobody opens the page: it expires
        if deliver:  # else the notifications are lost
            assert all(status == 200 for status in self.fake.deliver_notifications())

    def _payment(self, intent: Intent) -> WebPayment:
        [payment] = self.fake.payments_for(intent.id[:27])  # our order_id's prefix
        return payment

    def replay(self, payments: Payments, intent: Intent) -> None:
        assert self.fake.redeliver(self._payment(intent)) == 200

    def forged(self, intent: Intent, *, succeeded: bool) -> tuple[str, str]:
        # The forger holds the callback token and even this payment's notif_token (the
        # notification's only secret): only transactionstatus can stop it.
        payment = self._payment(intent)
        body = {
            "status": "SUCCESS" if succeeded else "FAILED",
            "notif_token": payment.notif_token,
            "txnid": "MP261130.0400.A00001" if succeeded else "",
        }
        notif_url = str(payment.request["notif_url"])
        assert notif_url.startswith(self.live_url)
        return notif_url[len(self.live_url) :], json.dumps(body)

    def prompts(self, payments: Payments, intent: Intent) -> int:
        # Pages for this assessment, not by order_id: a retry under a new intent would be
        # a second page someone could pay.
        with self.fake.state.lock:
            return sum(
                1
                for p in self.fake.state.payments
                if intent.assessment_reference in p.request["reference"]
            )

    def resolve(self, payments: Payments, intent: Intent) -> None:
        self.fake.answer(self._payment(intent), "pay")


HARNESS = OrangeHarness
