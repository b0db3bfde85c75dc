"""One contract for every SMS provider, each against its fake server (real client code).

Send, a per-recipient refusal, a retried transient failure, delivery reports applied without
ever regressing, and an inbound keyword reaching the keyword router: the same tests for
Africa's Talking (SDK), Twilio (official package), Orange SMS API and Infobip. The fakes start
once for the module and one app is built per provider; each test starts on a flushed Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

import runtime
from fakes import africastalking as at_fake
from fakes.africastalking import FakeAfricasTalking
from fakes.infobip import FakeInfobip
from fakes.orange_sms import FakeOrangeSms
from fakes.scripted import Behaviour
from fakes.twilio import FakeTwilio
from gateway.app import create_app
from gateway.services import EXTENSION_KEY
from sms.service import SendResult, SmsService
from sms.store import MessageStore, Status
from tests.conftest import FAKE_AT_KEY, REDIS_DB, REDIS_HOST, REDIS_PORT
from tests.sms.conftest import OTHER, PHONE, Jobs, message

PARAMS = {"ref": "12345674", "document": "Acte de naissance", "short_code": "*384*12#"}
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
PUBLIC = "https://guichet.example"  # PUBLIC_BASE_URL: the URL Twilio signs
HELP_REPLY = "Guichet: STATUT <réf> suit une demande"


@dataclass
class Fakes:
    """The four fake APIs, started once for the module."""

    at: FakeAfricasTalking
    twilio: FakeTwilio
    orange: FakeOrangeSms
    infobip: FakeInfobip


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    started = Fakes(
        FakeAfricasTalking(api_key=FAKE_AT_KEY).start(),
        FakeTwilio().start(),
        FakeOrangeSms().start(),
        FakeInfobip().start(),
    )
    yield started
    for fake in (started.at, started.twilio, started.orange, started.infobip):
        fake.stop()


class Case:
    """One provider: its settings, how to script its fake, how it calls us back."""

    name = ""
    # A native status per report kind: in flight, delivered, failed for good.
    statuses: ClassVar[dict[str, str]] = {}
    kept_statuses: ClassVar[
        dict[str, str]
    ] = {}  # what the message keeps of a report (provider_status)

    def __init__(self, fakes: Fakes) -> None:
        self.fakes = fakes

    def settings(self) -> dict[str, Any]:
        raise NotImplementedError

    def refuse(self, number: str) -> None:
        """Make every send to `number` a per-recipient, permanent refusal."""
        raise NotImplementedError

    def fail_once(self) -> None:
        """Make the next send a transient failure."""
        raise NotImplementedError

    def texts_to(self, number: str) -> list[str]:
        raise NotImplementedError

    def ids_to(self, number: str) -> list[str]:
        raise NotImplementedError

    def report(self, client: FlaskClient, provider_id: str, kind: str) -> dict[str, Any]:
        """POST a delivery report as the provider does; return our JSON answer."""
        raise NotImplementedError

    def inbound(self, client: FlaskClient, number: str, text: str) -> int:
        """POST an inbound SMS as the provider does; return our HTTP status."""
        raise NotImplementedError


class AfricasTalking(Case):
    kept_statuses: ClassVar[dict[str, str]] = {"pending": "Buffered"}
    name = "africastalking"
    statuses: ClassVar[dict[str, str]] = {
        "pending": "Buffered",
        "delivered": "Success",
        "failed": "Failed",
    }

    def settings(self) -> dict[str, Any]:
        return {
            "sms_provider": "africastalking",
            "at_username": "guichet",
            "at_api_key": FAKE_AT_KEY,
            "at_api_base_url": self.fakes.at.url,
            "at_timeout_seconds": 1.0,
        }

    def refuse(self, number: str) -> None:
        self.fakes.at.default = at_fake.Behaviour(per_number={number: 403})

    def fail_once(self) -> None:
        self.fakes.at.script(at_fake.Behaviour(http_status=503))

    def texts_to(self, number: str) -> list[str]:
        return [r.form["message"] for r in self.fakes.at.sent_to(number)]

    def ids_to(self, number: str) -> list[str]:
        return [i for r in self.fakes.at.sent_to(number) for i in r.message_ids if i != "None"]

    def report(self, client: FlaskClient, provider_id: str, kind: str) -> dict[str, Any]:
        form = {"id": provider_id, "status": self.statuses[kind], "phoneNumber": PHONE}
        response = client.post("/sms/africastalking/delivery", data={**form, "retryCount": "0"})
        assert response.status_code == 200
        answer: dict[str, Any] = response.get_json()
        return answer

    def inbound(self, client: FlaskClient, number: str, text: str) -> int:
        form = {"from": number, "to": "12345", "text": text, "id": f"in-{uuid.uuid4().hex}"}
        return client.post("/sms/africastalking/inbound", data=form).status_code


class Twilio(Case):
    kept_statuses: ClassVar[dict[str, str]] = {"pending": "sent"}
    name = "twilio"
    statuses: ClassVar[dict[str, str]] = {
        "pending": "sent",
        "delivered": "delivered",
        "failed": "undelivered",
    }

    def settings(self) -> dict[str, Any]:
        fake = self.fakes.twilio
        return {
            "sms_provider": "twilio",
            "twilio_account_sid": fake.account_sid,
            "twilio_auth_token": fake.auth_token,
            "twilio_from": "+15005550006",
            "twilio_api_base_url": fake.url,
            "sms_http_timeout_seconds": 1.0,
            "public_base_url": PUBLIC,
        }

    def refuse(self, number: str) -> None:
        self.fakes.twilio.default = Behaviour(per_number={number: "21211"})

    def fail_once(self) -> None:
        self.fakes.twilio.script(Behaviour(http_status=503))

    def texts_to(self, number: str) -> list[str]:
        return [r.text for r in self.fakes.twilio.sent_to(number)]

    def ids_to(self, number: str) -> list[str]:
        return [i for r in self.fakes.twilio.sent_to(number) for i in r.message_ids]

    def report(self, client: FlaskClient, provider_id: str, kind: str) -> dict[str, Any]:
        code = "30003" if kind == "failed" else ""
        url, form, headers = self.fakes.twilio.status_callback(
            provider_id, self.statuses[kind], to=PHONE, error_code=code
        )
        assert url == f"{PUBLIC}/sms/twilio/delivery"  # the StatusCallback our client sent
        response = client.post("/sms/twilio/delivery", data=form, headers=headers)
        assert response.status_code == 200
        answer: dict[str, Any] = response.get_json()
        return answer

    def inbound(self, client: FlaskClient, number: str, text: str) -> int:
        form, headers = self.fakes.twilio.inbound(f"{PUBLIC}/sms/twilio/inbound", number, text)
        response = client.post("/sms/twilio/inbound", data=form, headers=headers)
        assert response.mimetype == "text/xml"  # empty TwiML: Twilio sends nothing itself
        return response.status_code


class Orange(Case):
    kept_statuses: ClassVar[dict[str, str]] = {"pending": "DeliveredToNetwork"}
    name = "orange"
    statuses: ClassVar[dict[str, str]] = {
        "pending": "DeliveredToNetwork",
        "delivered": "DeliveredToTerminal",
        "failed": "DeliveryImpossible",
    }

    def settings(self) -> dict[str, Any]:
        fake = self.fakes.orange
        return {
            "sms_provider": "orange",
            "orange_sms_client_id": fake.client_id,
            "orange_sms_client_secret": fake.client_secret,
            "orange_sms_sender": "+243800000000",
            "orange_sms_base_url": fake.url,
            "sms_http_timeout_seconds": 1.0,
            "public_base_url": PUBLIC,
        }

    def refuse(self, number: str) -> None:
        self.fakes.orange.default = Behaviour(per_number={number: "SVC0004"})

    def fail_once(self) -> None:
        self.fakes.orange.script(Behaviour(http_status=503))

    def texts_to(self, number: str) -> list[str]:
        return [r.text for r in self.fakes.orange.sent_to(number)]

    def ids_to(self, number: str) -> list[str]:
        # The message is filed under its receiptRequest's callbackData (what receipts carry).
        found = []
        for received in self.fakes.orange.sent_to(number):
            receipt = received.body["outboundSMSMessageRequest"].get("receiptRequest", {})
            if received.message_ids:
                assert receipt["notifyURL"] == f"{PUBLIC}/sms/orange/delivery"
                found.append(receipt["callbackData"])
        return found

    def report(self, client: FlaskClient, provider_id: str, kind: str) -> dict[str, Any]:
        body = self.fakes.orange.delivery_notification(provider_id, PHONE, self.statuses[kind])
        response = client.post("/sms/orange/delivery", json=body)
        assert response.status_code == 200
        answer: dict[str, Any] = response.get_json()
        return answer

    def inbound(self, client: FlaskClient, number: str, text: str) -> int:
        body = self.fakes.orange.inbound_notification(number, text)
        return client.post("/sms/orange/inbound", json=body).status_code


class Infobip(Case):
    kept_statuses: ClassVar[dict[str, str]] = {"pending": "PENDING"}
    name = "infobip"
    statuses: ClassVar[dict[str, str]] = {
        "pending": "PENDING_ACCEPTED",
        "delivered": "DELIVERED_TO_HANDSET",
        "failed": "UNDELIVERABLE_NOT_DELIVERED",
    }

    def settings(self) -> dict[str, Any]:
        fake = self.fakes.infobip
        return {
            "sms_provider": "infobip",
            "infobip_base_url": fake.url,
            "infobip_api_key": fake.api_key,
            "infobip_from": "Guichet",
            "sms_http_timeout_seconds": 1.0,
            "public_base_url": PUBLIC,
        }

    def refuse(self, number: str) -> None:
        self.fakes.infobip.default = Behaviour(per_number={number: "REJECTED_DESTINATION"})

    def fail_once(self) -> None:
        self.fakes.infobip.script(Behaviour(http_status=503))

    def texts_to(self, number: str) -> list[str]:
        return [r.text for r in self.fakes.infobip.sent_to(number)]

    def ids_to(self, number: str) -> list[str]:
        found = []
        for received in self.fakes.infobip.sent_to(number):
            [sent] = received.body["messages"]
            assert sent["notifyUrl"] == f"{PUBLIC}/sms/infobip/delivery"
            found += [
                i
                for n, i in zip(received.numbers, received.message_ids, strict=True)
                if n == number
            ]
        return found

    def report(self, client: FlaskClient, provider_id: str, kind: str) -> dict[str, Any]:
        body = self.fakes.infobip.report(provider_id, PHONE, self.statuses[kind])
        response = client.post("/sms/infobip/delivery", json=body)
        assert response.status_code == 200
        answer: dict[str, Any] = response.get_json()
        return answer

    def inbound(self, client: FlaskClient, number: str, text: str) -> int:
        body = self.fakes.infobip.inbound(number, text)
        return client.post("/sms/infobip/inbound", json=body).status_code


CASES = (AfricasTalking, Twilio, Orange, Infobip)


@pytest.fixture(scope="module", params=CASES, ids=[c.name for c in CASES])
def built(
    request: pytest.FixtureRequest, fakes: Fakes, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Case, Flask]]:
    """Build one app per provider for the module: building is most of a test's time."""
    case: Case = request.param(fakes)
    database = tmp_path_factory.mktemp(case.name) / "guichet.db"
    config = {
        "redis_url": REDIS_URL,
        "database_url": f"sqlite:///{database}",
        "sms_retry_delays": "0,0,0",  # retry at once: the delays have their own tests
        "sms_hold_seconds": 60,
    }
    yield case, create_app({**config, **case.settings()})
    runtime.uninstall()


@dataclass
class World:
    """One test's view: the provider, our app's client, a job runner, the message store."""

    case: Case
    client: FlaskClient
    jobs: Jobs
    store: MessageStore
    run: str  # makes this test's idempotency keys its own (the SQL log outlives a test)

    def send(self, key: str = "k", phone: str = PHONE) -> SendResult:
        sms = runtime.current().get(SmsService)
        return sms.send(phone, "request_created", PARAMS, idempotency_key=f"{self.run}:{key}")


@pytest.fixture
def world(built: tuple[Case, Flask], fakes: Fakes) -> Iterator[World]:
    """Return a fresh start on the provider's app: Redis flushed, the fakes forgetful."""
    case, app = built
    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    for fake in (fakes.at, fakes.twilio, fakes.orange, fakes.infobip):
        fake.reset()
    runtime.install(app.extensions[EXTENSION_KEY])
    store = runtime.current().get(MessageStore)
    yield World(case, app.test_client(), Jobs(connection), store, uuid.uuid4().hex)
    connection.flushdb()
    connection.close()


def _text() -> str:
    return runtime.current().get(SmsService).book.message("request_created", "fr", PARAMS)


def test_send_hands_the_text_to_the_provider_and_files_its_id(world: World) -> None:
    result = world.send()
    world.jobs.run()
    sent = message(world.store, result.message_id)
    assert sent.status == Status.SENT
    assert world.case.texts_to(PHONE) == [_text()]
    assert [sent.provider_id] == world.case.ids_to(PHONE)


def test_a_per_recipient_refusal_fails_that_message_only(world: World) -> None:
    world.case.refuse(PHONE)
    refused = world.send("a")
    other = world.send("b", OTHER)
    world.jobs.run()
    failed = message(world.store, refused.message_id)
    assert failed.status == Status.FAILED
    assert failed.attempts == 1 and len(world.case.texts_to(PHONE)) == 1  # never retried
    assert PHONE not in failed.reason and PHONE[4:] not in failed.reason  # no number kept
    assert message(world.store, other.message_id).status == Status.SENT
    assert world.jobs.scheduled() == []


def test_a_transient_failure_is_retried_then_sent(world: World) -> None:
    world.case.fail_once()
    result = world.send()
    world.jobs.run()
    sent = message(world.store, result.message_id)
    assert (sent.status, sent.attempts) == (Status.SENT, 2)
    assert world.case.texts_to(PHONE) == [_text(), _text()]


@pytest.mark.parametrize(
    ("sequence", "final"),
    [
        (["pending", "delivered"], Status.DELIVERED),
        (["delivered", "pending"], Status.DELIVERED),  # out of order: never regresses
        (["failed", "delivered"], Status.UNDELIVERED),
        (["pending"], Status.SENT),
    ],
)
def test_delivery_reports_move_the_message_and_never_regress(
    world: World, sequence: list[str], final: Status
) -> None:
    result = world.send()
    world.jobs.run()
    provider_id = message(world.store, result.message_id).provider_id
    for kind in sequence:
        assert world.case.report(world.client, provider_id, kind)["status"] == "accepted"
    assert world.case.report(world.client, provider_id, sequence[-1])["status"] == "duplicate"
    world.jobs.run()  # one job per report, applied in the order they came
    reported = message(world.store, result.message_id)
    assert reported.status == final
    if final == Status.SENT:  # an in-flight report only refines `sent`, keeping its word
        assert reported.provider_status == world.case.kept_statuses["pending"]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("AIDE", HELP_REPLY),
        ("statut 12345670", "Guichet: la référence 12345670 semble mal tapée."),  # check digit
    ],
)
def test_an_inbound_keyword_reaches_the_router_and_is_answered(
    world: World, text: str, answer: str
) -> None:
    assert world.case.inbound(world.client, PHONE, text) == 200
    world.jobs.run()  # the inbound job queues the reply; the deliver job sends it
    [reply] = world.case.texts_to(PHONE)
    assert reply.startswith(answer)
