"""The PayGate and Orange fakes keep the documented rules (PROVIDERS.md §3, §4b), whoever calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fakes.orange import EXPIRY_SECONDS, FakeOrange
from fakes.paygate import BAD_PARAMS, BAD_TOKEN, DUPLICATE, EXPIRED, RECORDED, FakePayGate


@pytest.fixture
def paygate() -> Iterator[FakePayGate]:
    fake = FakePayGate().start()
    yield fake
    fake.stop()


@pytest.fixture
def orange() -> Iterator[FakeOrange]:
    fake = FakeOrange().start()
    yield fake
    fake.stop()


def pay(fake: FakePayGate, **changes: Any) -> dict[str, Any]:
    body = {
        "auth_token": fake.state.auth_token,
        "phone_number": "90112233",
        "amount": 500,
        "description": "road 100001",
        "identifier": "order-1",
        "network": "TMONEY",
        **changes,
    }
    answer: dict[str, Any] = requests.post(f"{fake.url}/api/v1/pay", json=body, timeout=5).json()
    return answer


def test_paygate_statuses(paygate: FakePayGate) -> None:
    assert pay(paygate, auth_token="wrong") == {"status": BAD_TOKEN}
    assert pay(paygate, phone_number="+22890112233") == {"status": BAD_PARAMS}
    assert pay(paygate, amount=12.5) == {"status": BAD_PARAMS}
    assert pay(paygate, network="MOOV") == {"status": BAD_PARAMS}
    first = pay(paygate)
    assert first["status"] == RECORDED and first["tx_reference"]
    assert pay(paygate, amount=900) == {"status": DUPLICATE}  # same identifier: no new charge
    assert len(paygate.state.payments) == 1


def test_paygate_status_by_identifier_and_reference(paygate: FakePayGate) -> None:
    reference = pay(paygate, amount=503)["tx_reference"]
    token = paygate.state.auth_token
    v2 = requests.post(
        f"{paygate.url}/api/v2/status",
        json={"auth_token": token, "identifier": "order-1"},
        timeout=5,
    ).json()
    assert (v2["status"], v2["tx_reference"], v2["payment_method"]) == (2, reference, "T-Money")
    paygate.settle()
    v1 = requests.post(
        f"{paygate.url}/api/v1/status",
        json={"auth_token": token, "tx_reference": reference},
        timeout=5,
    ).json()
    assert v1["status"] == EXPIRED and v1["identifier"] == "order-1"
    unknown = requests.post(
        f"{paygate.url}/api/v2/status", json={"auth_token": token, "identifier": "x"}, timeout=5
    )
    assert unknown.status_code == 404


def token(fake: FakeOrange) -> str:
    state = fake.state
    answer = requests.post(
        f"{fake.url}/oauth/v3/token",
        data={"grant_type": "client_credentials"},
        auth=(state.client_id, state.client_secret),
        timeout=5,
    )
    assert answer.status_code == 200
    value: str = answer.json()["access_token"]
    return value


def webpayment(fake: FakeOrange, bearer: str, **changes: Any) -> requests.Response:
    body = {
        "merchant_key": fake.state.merchant_key,
        "currency": "OUV",
        "order_id": "order-1",
        "amount": 1200,
        "return_url": "https://city.example/ok",
        "cancel_url": "https://city.example/cancel",
        "notif_url": "https://city.example/notif",
        "lang": "fr",
        "reference": "Taxe voirie",
        **changes,
    }
    return requests.post(
        f"{fake.url}/orange-money-webpay/dev/v1/webpayment",
        json=body,
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=5,
    )


def test_orange_token_and_its_expiry(orange: FakeOrange) -> None:
    refused = requests.post(
        f"{orange.url}/oauth/v3/token", data={"grant_type": "client_credentials"}, timeout=5
    )
    assert refused.status_code == 401
    bearer = token(orange)
    assert webpayment(orange, "nope").json()["code"] == 41
    orange.expire_tokens()
    expired = webpayment(orange, bearer)
    assert (expired.status_code, expired.json()["code"]) == (401, 42)


def test_orange_webpayment_rules(orange: FakeOrange) -> None:
    bearer = token(orange)
    assert webpayment(orange, bearer, order_id="x" * 31).status_code == 400
    assert webpayment(orange, bearer, notif_url="https://e/" + "x" * 120).status_code == 400
    assert webpayment(orange, bearer, currency="XOF").status_code == 400
    created = webpayment(orange, bearer)
    assert created.status_code == 201
    answer = created.json()
    assert {"status", "message", "pay_token", "payment_url", "notif_token"} <= set(answer)
    assert webpayment(orange, bearer).status_code == 400  # the same order_id again


def test_orange_payment_expires_after_ten_minutes(orange: FakeOrange) -> None:
    bearer = token(orange)
    pay_token = webpayment(orange, bearer).json()["pay_token"]

    def status() -> Any:
        return requests.post(
            f"{orange.url}/orange-money-webpay/dev/v1/transactionstatus",
            json={"order_id": "order-1", "amount": 1200, "pay_token": pay_token},
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=5,
        )

    first = status()
    assert (first.status_code, first.json()["status"]) == (201, "INITIATED")
    orange.advance(EXPIRY_SECONDS - 1)
    assert status().json()["status"] == "INITIATED"
    orange.advance(1)
    assert status().json()["status"] == "EXPIRED"
    [payment] = orange.state.payments
    orange.answer(payment, "pay")  # too late: an expired page cannot be paid
    assert status().json()["status"] == "EXPIRED"
