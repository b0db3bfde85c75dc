"""Vodacom M-Pesa OpenAPI C2B through fakes/vodacom.py: the push blocks until the customer answers.

`c2bPayment/singleStage` answers once the customer has answered the PIN prompt, so a success
(INS-0) and the documented refusals (INS-5, INS-2006, INS-2051, INS-1) end in the push job,
by the answer to our own request: `answered_in_push`. A prompt can outlive the request
(INS-9, "Request timeout"): the customer may still pay or cancel afterwards, and the market's
async result reaches the one URL registered on the portal (no `?intent=`: the result's
ThirdPartyConversationID is ours), or is lost and reconciliation asks queryTransactionStatus.
That late answer is LATE_SUCCESS here, and two late failures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from fakes.vodacom import DESCRIPTIONS, FakeVodacom
from payments.model import FailureReason, Intent
from payments.providers.vodacom import conversation_id
from tests.payments.conftest import Payments
from tests.payments.contract.harness import AMBIGUOUS, LATE_SUCCESS, SUCCESS, Harness

PHONE = "+243812345678"  # Vodacom DRC prefix 81
MSISDN = PHONE.lstrip("+")
PENDING = "Pending"  # what queryTransactionStatus says while the prompt is open


@dataclass(frozen=True, slots=True)
class Plan:
    """How one C2B goes: the fake's answer to the push, then the customer's late answer."""

    code: str  # the INS code the C2B request gets
    status: str | None = None  # what the status query says once the customer answered late
    result: str | None = None  # the async result's code then (None: Vodacom sends none)


PLANS: Mapping[str, Plan] = {
    SUCCESS: Plan("INS-0"),
    "INS-5 cancelled by customer": Plan("INS-5"),
    "INS-2006 insufficient balance": Plan("INS-2006"),
    "INS-2051 MSISDN invalid": Plan("INS-2051"),
    "INS-1 internal error": Plan("INS-1"),
    # Late answers: the request timed out (INS-9) while the prompt stayed open.
    LATE_SUCCESS: Plan("INS-9", "Completed", "INS-0"),
    "INS-9, then never answered: Expired, no result": Plan("INS-9", "Expired"),
    "INS-9, then cancelled: result INS-5": Plan("INS-9", "Cancelled", "INS-5"),
    AMBIGUOUS: Plan("INS-9"),  # the status query keeps saying Pending
}


class VodacomHarness(Harness):
    provider = "vodacom"
    operator = "mpesa"
    phone = PHONE
    currency = "USD"  # the DRC market's documented currency (CDF is unverified)
    failures: ClassVar[Mapping[str, FailureReason]] = {
        # First: a failure given after the push (the forged-success step needs one open).
        "INS-9, then never answered: Expired, no result": FailureReason.TIMEOUT,
        "INS-9, then cancelled: result INS-5": FailureReason.CANCELLED,
        "INS-5 cancelled by customer": FailureReason.CANCELLED,
        "INS-2006 insufficient balance": FailureReason.INSUFFICIENT_FUNDS,
        "INS-2051 MSISDN invalid": FailureReason.INVALID_NUMBER,
        "INS-1 internal error": FailureReason.OTHER,
    }
    answered_in_push = frozenset(
        {
            SUCCESS,
            "INS-5 cancelled by customer",
            "INS-2006 insufficient balance",
            "INS-2051 MSISDN invalid",
            "INS-1 internal error",
        }
    )

    def start(self) -> None:
        self.fake = FakeVodacom().start()
        self.plans: list[Plan] = []  # one per scripted C2B, in the fake's order
        self.answered = 0  # how many of them the customer has answered
        self.results: dict[str, str] = {}  # ThirdPartyConversationID -> last result code sent

    def stop(self) -> None:
        self.fake.stop()

    @property
    def result_url(self) -> str:
        """Return the async result URL registered on the portal (one for every payment)."""
        return f"{self.live_url}/payments/vodacom/callback/t/{self.token}"

    def settings(self) -> dict[str, Any]:
        state = self.fake.state
        return {
            "vodacom_base_url": self.fake.url,
            "vodacom_api_key": state.api_key,
            "vodacom_public_key": self.fake.public_key,
            "vodacom_service_provider_code": state.service_provider_code,
            "vodacom_currency": self.currency,
            "vodacom_push_timeout_seconds": 2.0,
            "vodacom_timeout_seconds": 2.0,
            "vodacom_session_activation_seconds": 0.0,
        }

    def script(self, outcome: str) -> int:
        plan = PLANS[outcome]
        # Every C2B is scripted, so the fake's transactions and our plans pair up in order.
        self.fake.script(plan.code, status=PENDING if plan.code == "INS-9" else None)
        self.plans.append(plan)
        return 25

    def answer(self, payments: Payments, *, deliver: bool = True) -> None:
        with self.fake.state.lock:
            transactions = list(self.fake.state.transactions)
        assert len(transactions) == len(self.plans), "every C2B was scripted"
        due = list(zip(transactions, self.plans, strict=True))[self.answered :]
        self.answered = len(transactions)
        for txn, plan in due:
            if plan.status is None:
                continue  # answered in the push, or still pending (ambiguous)
            self.fake.set_status(txn.third_party_id, plan.status)
            if plan.result is not None:
                self.results[txn.third_party_id] = plan.result
                if deliver:
                    self._deliver(txn.third_party_id, plan.result)

    def _deliver(self, third_party_id: str, code: str) -> None:
        assert self.fake.deliver_result(self.result_url, third_party_id, code=code) == 200

    def replay(self, payments: Payments, intent: Intent) -> None:
        third_party = conversation_id(intent.id)
        self._deliver(third_party, self.results[third_party])

    def forged(self, intent: Intent, *, succeeded: bool) -> tuple[str, str]:
        # Unsigned, like every async result: the token in the URL is all a forger needs.
        code = "INS-0" if succeeded else "INS-2006"
        body = {
            "input_OriginalConversationID": "0f0e0d0c0b0a09080706050403020100",
            "input_TransactionID": "FORGED0001" if succeeded else "",
            "input_ResultCode": code,
            "input_ResultDesc": DESCRIPTIONS[code],
            "input_ThirdPartyConversationID": conversation_id(intent.id),
        }
        return f"/payments/vodacom/callback/t/{self.token}", json.dumps(body)

    def prompts(self, payments: Payments, intent: Intent) -> int:
        # Counted by phone and reference, not by id: a retry under a new id would be a charge.
        with self.fake.state.lock:
            return sum(
                1
                for t in self.fake.state.transactions
                if t.request["input_CustomerMSISDN"] == MSISDN
                and intent.assessment_reference in t.request["input_TransactionReference"]
            )

    def resolve(self, payments: Payments, intent: Intent) -> None:
        self.fake.set_status(conversation_id(intent.id), "Completed")


HARNESS = VodacomHarness
