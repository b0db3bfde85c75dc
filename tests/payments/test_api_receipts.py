"""GET /api/v1/receipts/<code> for agents: valid / unknown / mistyped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml
from flask.testing import FlaskClient

import runtime
from civic.references import check_digit
from gateway.app import create_app
from payments.receipts import normalize
from tests.hardening.conftest import dead_redis_url
from tests.payments.conftest import Payments

AGENT = {"Authorization": "Bearer demo-agent-key"}
SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi" / "receipts.yaml"


def paid_code(payments: Payments) -> str:
    result = payments.start(40000)
    assert result.intent is not None
    payments.work()
    code = payments.intent(result.intent.id).receipt_code
    assert code is not None
    return code


def _schema(name: str) -> dict[str, Any]:
    # A schema of docs/openapi/receipts.yaml, its references resolvable.
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return {**spec["components"]["schemas"][name], "components": spec["components"]}


def test_valid_code_answers_the_receipt(payments: Payments, client: FlaskClient) -> None:
    code = paid_code(payments)
    response = client.get(f"/api/v1/receipts/{code}", headers=AGENT)
    assert response.status_code == 200
    data = response.get_json()
    jsonschema.validate(data, _schema("ValidReceipt"))  # the fuzz never finds a real code
    assert data["status"] == "valid" and data["code"] == code
    assert (data["amount"], data["currency"], data["tax"]) == (40000, "CDF", "road")
    assert len(data["date"]) == 10


def test_mistyped_and_unknown(payments: Payments, client: FlaskClient) -> None:
    code = paid_code(payments)
    digits = normalize(code) or ""
    typo = digits[:-2] + str((int(digits[-2]) + 1) % 10) + digits[-1]
    response = client.get(f"/api/v1/receipts/{typo}", headers=AGENT)
    assert (response.status_code, response.get_json()["status"]) == (400, "mistyped")
    body = "99" + "1234567"
    response = client.get(f"/api/v1/receipts/{body}{check_digit(body)}", headers=AGENT)
    assert (response.status_code, response.get_json()["status"]) == (404, "unknown")
    response = client.get("/api/v1/receipts/not-a-code", headers=AGENT)
    assert (response.status_code, response.get_json()) == (
        400,
        {"status": "mistyped", "code": "not-a-code"},
    )


def test_agent_key_required(payments: Payments, client: FlaskClient) -> None:
    anonymous = client.get("/api/v1/receipts/4827-1930-55")
    assert (anonymous.status_code, anonymous.get_json()["error"]) == (401, "unauthorized")
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    portal = {"Authorization": "Bearer demo-portal-key"}
    wrong_scope = client.get("/api/v1/receipts/4827-1930-55", headers=portal)
    assert (wrong_scope.status_code, wrong_scope.get_json()["error"]) == (403, "forbidden")


def test_checks_are_rate_limited_per_agent_key(payments: Payments, client: FlaskClient) -> None:
    # 121 checks span at most two one-minute windows, so one window gets 61: one is refused.
    statuses = [
        client.get("/api/v1/receipts/4827-1930-55", headers=AGENT).status_code for _ in range(121)
    ]
    assert set(statuses[:60]) <= {400, 404}
    assert 429 in statuses
    refused = client.get("/api/v1/receipts/4827-1930-55", headers=AGENT)
    assert refused.status_code == 429
    jsonschema.validate(refused.get_json(), _schema("RateLimited"))
    assert int(refused.headers["Retry-After"]) >= 1


def test_a_check_while_the_database_is_down_is_a_503(app_config: dict[str, Any]) -> None:
    # Nothing listens on that port: the receipts lookup fails at once.
    port = int(dead_redis_url().rsplit(":", 1)[1].split("/")[0])
    down = {**app_config, "database_url": f"postgresql+psycopg://g:x@127.0.0.1:{port}/g"}
    try:
        client = create_app(down).test_client()
        response = client.get("/api/v1/receipts/4827-1930-59", headers=AGENT)
    finally:
        runtime.uninstall()
    assert response.status_code == 503
    assert response.get_json()["error"] == "unavailable"
    assert int(response.headers["Retry-After"]) >= 1
