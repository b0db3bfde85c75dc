"""PayGateGlobal (Flooz here; T-Money is the same API) through fakes/paygate.py, as Lomé.

PayGate charges francs CFA from Togolese numbers only, so this harness runs the shipped menus
as a Lomé city (XOF) and pays from a Moov Flooz number. The callback goes to the one URL set
in the PayGate dashboard; its `identifier` is our intent id.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from fakes.paygate import CANCELLED, EXPIRED, PAID, PENDING, FakePayGate
from payments.model import FailureReason, Intent
from tests.payments.conftest import Payments
from tests.payments.contract.harness import AMBIGUOUS, SUCCESS, Harness
from tests.payments.test_flow_paygate import lome_menus

PHONE = "+22896112233"  # Moov Africa Togo (Flooz) prefix 96
LOCAL = PHONE[4:]  # PayGate's phone_number: 8 digits, no 228
OUTCOMES = {
    SUCCESS: PAID,
    "6 cancelled by the customer": CANCELLED,
    "4 expired, no callback": EXPIRED,
    AMBIGUOUS: PENDING,  # v2/status keeps answering 2 until finish()
}


class PayGateHarness(Harness):
    provider = "paygate"
    operator = "flooz"
    phone = PHONE
    currency = "XOF"
    failures: ClassVar[Mapping[str, FailureReason]] = {
        "6 cancelled by the customer": FailureReason.CANCELLED,
        "4 expired, no callback": FailureReason.TIMEOUT,
    }

    def start(self) -> None:
        self.fake = FakePayGate().start()
        # The callback URL is set once in the PayGate dashboard, not per payment.
        self.fake.state.callback_url = f"{self.live_url}/payments/paygate/callback/t/{self.token}"
        self.city = tempfile.TemporaryDirectory(prefix="guichet-lome-")

    def stop(self) -> None:
        self.fake.stop()
        self.city.cleanup()

    def settings(self) -> dict[str, Any]:
        return {
            "menus_path": lome_menus(Path(self.city.name)),
            "paygate_base_url": self.fake.url,
            "paygate_auth_token": self.fake.state.auth_token,
            "paygate_timeout_seconds": 1.0,
        }

    def script(self, outcome: str) -> int:
        with self.fake.state.lock:
            self.fake.state.next_outcomes.append(OUTCOMES[outcome])
        return 5000

    def answer(self, payments: Payments, *, deliver: bool = True) -> None:
        self.fake.settle()  # alone: the callbacks are lost
        if deliver:
            assert all(status == 200 for status in self.fake.deliver_callbacks())

    def replay(self, payments: Payments, intent: Intent) -> None:
        assert self.fake.redeliver(intent.id) == 200

    def forged(self, intent: Intent, *, succeeded: bool) -> tuple[str, str]:
        # Unsigned: the dashboard URL's token is all a forger needs; it even knows the fields.
        body = {
            "tx_reference": intent.provider_reference,
            "identifier": intent.id,
            "payment_reference": "7700000001" if succeeded else "",
            "status": PAID if succeeded else CANCELLED,
            "datetime": "2026-11-30 04:00:00",
            "payment_method": "FLOOZ",
            "amount": intent.amount,
            "phone_number": LOCAL,
        }
        return f"/payments/paygate/callback/t/{self.token}", json.dumps(body)

    def prompts(self, payments: Payments, intent: Intent) -> int:
        # Counted by phone and reference, not by identifier: a retry under a new identifier
        # would be a second charge.
        with self.fake.state.lock:
            return sum(
                1
                for p in self.fake.state.payments
                if p.request["phone_number"] == LOCAL
                and intent.assessment_reference in p.request["description"]
            )

    def resolve(self, payments: Payments, intent: Intent) -> None:
        self.fake.finish(intent.id, PAID)


HARNESS = PayGateHarness
