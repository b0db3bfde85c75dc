"""Schemathesis drives every documented API in-process through the app's WSGI entry.

Each spec under docs/openapi/ that Guichet serves is loaded from its file (the file is the
contract), cases are generated from it, valid ones (positive) and invalid ones (negative),
sent through the real app with the right bearer key, and every answer is checked against the
spec: never a 5xx, a documented status, the documented body, content type and headers, valid
data accepted, invalid data refused, auth not ignored.

Formats the specs name for rules a pattern cannot express (a Damm check digit, a phone number
that exists) get generators here, so valid cases are really valid.

Bounded and deterministic (fixed seed, derandomized, MAX_EXAMPLES per operation and mode) so
it stays a fast part of `make test`; a failure prints the case as a curl command.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

import jsonschema
import pytest
import redis
import schemathesis
import yaml
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from twilio.request_validator import RequestValidator

import runtime
from civic.references import check_digit, make_reference
from civic.seed import seed_demo
from gateway.app import create_app
from gateway.schema import migrate_all
from payments.receipts import group
from tests.conftest import REDIS_DB, REDIS_HOST, REDIS_PORT
from tests.hardening.conftest import CHANNEL_TOKENS, TOKENS, routes

DOCS: Final = Path(__file__).resolve().parents[2] / "docs" / "openapi"
MAX_EXAMPLES: Final = 25
AGENT: Final = {"Authorization": "Bearer demo-agent-key"}
PORTAL: Final = {"Authorization": "Bearer demo-portal-key"}
# Spec -> the key its API takes; every operation of each is fuzzed.
SPECS: Final = {
    "agents.yaml": AGENT,
    "receipts.yaml": AGENT,
    "otp.yaml": PORTAL,
    "callbacks.yaml": {},  # a token per channel, in the query (_token)
    "simulator.yaml": {},
    "operations.yaml": {},
}
METHODS: Final = {"get", "post", "put", "patch", "delete"}
CONSOLE_PREFIX: Final = "/console"
# Checks an operation's documented contract contradicts, and why (said in its spec too).
NOT_CHECKED: Final[dict[str, tuple[list[Any], str]]] = {
    "POST /api/v1/requests/{ref}/decision": (
        [positive_data_acceptance],
        "schema-valid data is a 400 when reason_code or office is not this request's own",
    ),
    "GET /api/v1/appointments/agenda": (
        [positive_data_acceptance],
        "schema-valid data is a 400 when the service or counter is not in the catalogue",
    ),
    "GET /readyz": ([not_a_server_error], "503 is its answer when a check fails (no worker here)"),
}
# Callbacks answer an unusable payload 200 (`ignored`, or held for review) on purpose, or the
# provider retries it for hours (callbacks.yaml): invalid data is not refused there, but it
# must still never be a 5xx, nor an undocumented status or body.
ACCEPTS_INVALID: Final = {"callbacks.yaml"}
# Twilio's callbacks need its signature of our public URL: the fuzzed app has both.
TWILIO = {
    "twilio_auth_token": "fuzz-twilio-auth-token",
    "public_base_url": "https://guichet.example",
}

# The demo city's requests are the first bodies (10000012...): some cases hit real ones.
_SEEDED_BODIES = st.integers(1_000_001, 1_000_020)
schemathesis.openapi.format(
    "request-reference",
    st.one_of(_SEEDED_BODIES, st.integers(1_000_000, 9_999_999)).map(make_reference),
)
schemathesis.openapi.format(
    "receipt-code",
    st.text("0123456789", min_size=9, max_size=23).map(
        lambda body: group(body + check_digit(body))
    ),
)
schemathesis.openapi.format("phone", st.integers(0, 9_999_999).map(lambda n: f"+24381{n:07d}"))
# The app is built with the sandbox operators only: some cases name it, others a stranger.
schemathesis.openapi.format("menu-language", st.sampled_from(["fr", "en", "sw"]))
schemathesis.openapi.format("payment-provider", st.sampled_from(["sandbox", "daraja", "nobody"]))


def _config(headers: dict[str, str]) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {"seed": 18, "headers": headers, "generation": {"deterministic": True, "database": "none"}}
    )


def _load(name: str) -> Any:
    return schemathesis.openapi.from_path(DOCS / name, config=_config(SPECS[name]))


def _takes_input(spec: dict[str, Any], path: str, method: str) -> bool:
    # An operation without parameters or body has nothing to make invalid.
    item = spec["paths"][path]
    return bool(item.get("parameters") or item[method].get("parameters")) or (
        "requestBody" in item[method]
    )


def _cases() -> list[tuple[str, str, GenerationMode]]:
    cases = []
    for name in SPECS:
        spec = yaml.safe_load((DOCS / name).read_text(encoding="utf-8"))
        for path, item in spec["paths"].items():
            for method in sorted(set(item) & METHODS):
                label = f"{method.upper()} {path}"
                cases.append((name, label, GenerationMode.POSITIVE))
                if _takes_input(spec, path, method):
                    cases.append((name, label, GenerationMode.NEGATIVE))
    return cases


CASES: Final = _cases()


def _token(label: str) -> dict[str, str]:
    channel = label.split("/")[1]
    return {"token": CHANNEL_TOKENS[channel]} if channel in CHANNEL_TOKENS else {}


class _SignedAsTwilio:
    """Sign requests to /sms/twilio/* as Twilio signs its webhooks (the URL with its query,
    the form), so generated cases reach the views behind the signature check.

    WSGI, not a header in the test: the generated examples (and so the other operations'
    cases) stay those of the unchanged test function (hypothesis derandomizes by its code).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.validator = RequestValidator(TWILIO["twilio_auth_token"])

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith("/sms/twilio/"):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            query = environ.get("QUERY_STRING", "")
            url = TWILIO["public_base_url"] + environ["PATH_INFO"] + (f"?{query}" if query else "")
            environ["HTTP_X_TWILIO_SIGNATURE"] = self.validator.compute_signature(url, _Form(form))
        return self.app(environ, start_response)


class _Form(dict[str, list[str]]):
    """A parsed form the validator reads every value of (as Flask's MultiDict)."""

    def getlist(self, name: str) -> list[str]:
        return self[name]


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """Return one app for the module (callback tokens, a generous per-IP limit, the demo city).

    One app, not one per case: building and seeding it is most of a case's time.
    """
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    database_url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'guichet.db'}"
    config = {"redis_url": url, "database_url": database_url, "rate_api_per_ip": "100000/60"}
    application = create_app({**config, **TOKENS, **TWILIO})
    application.testing = True
    application.wsgi_app = _SignedAsTwilio(application.wsgi_app)  # type: ignore[method-assign]
    migrate_all(application.config["SETTINGS"], io.StringIO())
    seed_demo(database_url)
    yield application
    runtime.uninstall()
    client.flushdb()
    client.close()


def test_every_route_the_edge_answers_is_documented_in_exactly_one_spec(fuzzed_app: Flask) -> None:
    served = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in routes(fuzzed_app)
        if "token" not in rule.arguments
        and not rule.endpoint.endswith("static")
        # The staff console (/console) is HTML pages and forms for people, not an API: it
        # has no machine contract to document; tests/console walks every one of its routes.
        and not rule.rule.startswith(CONSOLE_PREFIX)
        for method in rule.methods or ()
        if method.lower() in METHODS
    }
    documented: dict[tuple[str, str], list[str]] = {}
    for name in SPECS:
        spec = yaml.safe_load((DOCS / name).read_text(encoding="utf-8"))
        for path, item in spec["paths"].items():
            for method in set(item) & METHODS:
                documented.setdefault((method.upper(), path), []).append(name)
    assert ("POST", "/api/v1/otp") in served and ("GET", "/readyz") in served
    assert served == set(documented)
    assert {key: names for key, names in documented.items() if len(names) > 1} == {}


def test_a_wrong_check_digit_matches_the_pattern_and_is_refused_before_any_lookup(
    fuzzed_app: Flask,
) -> None:
    spec = yaml.safe_load((DOCS / "agents.yaml").read_text(encoding="utf-8"))
    pattern = re.compile(spec["components"]["schemas"]["Reference"]["pattern"])
    invalid = {**spec["components"]["schemas"]["Invalid"], "components": spec["components"]}
    client = fuzzed_app.test_client()
    for body in ("1000001", "5550123", "9999999"):
        right = make_reference(int(body))
        for wrong in (body + d for d in "0123456789" if body + d != right):
            assert pattern.match(wrong), wrong  # the pattern alone cannot tell
            answer = client.get(f"/api/v1/requests/{wrong}", headers=AGENT)
            assert answer.status_code == 400, wrong
            jsonschema.validate(answer.get_json(), invalid)
            assert "check digit" in answer.get_json()["errors"]["reference"]
    assert client.get("/api/v1/requests/10000012", headers=AGENT).status_code == 200  # seeded
    unknown = client.get(f"/api/v1/requests/{make_reference(5550123)}", headers=AGENT)
    assert (unknown.status_code, unknown.get_json()["error"]) == (404, "not_found")
    # Receipt codes: the last digit is a Damm check digit too.
    body = "482719305"
    right_code = group(body + check_digit(body))
    wrong_code = right_code[:-1] + str((int(right_code[-1]) + 1) % 10)
    mistyped = client.get(f"/api/v1/receipts/{wrong_code}", headers=AGENT)
    assert (mistyped.status_code, mistyped.get_json()["status"]) == (400, "mistyped")
    unknown = client.get(f"/api/v1/receipts/{right_code}", headers=AGENT)
    assert (unknown.status_code, unknown.get_json()["status"]) == (404, "unknown")


def test_every_documented_operation_is_fuzzed() -> None:
    labels = {(name, label) for name, label, _ in CASES}
    assert len(labels) == 34, sorted(labels)
    assert ("receipts.yaml", "GET /api/v1/receipts/{code}", GenerationMode.NEGATIVE) in CASES


@pytest.mark.parametrize(
    ("spec", "label", "mode"), CASES, ids=[f"{n}:{lbl}:{m.value}" for n, lbl, m in CASES]
)
def test_every_operation_matches_its_spec(
    fuzzed_app: Flask, spec: str, label: str, mode: GenerationMode
) -> None:
    schema = _load(spec)
    schema.app = fuzzed_app  # the checks' own requests (is auth ignored?) go in-process too
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        deadline=None,
        derandomize=True,
        max_examples=MAX_EXAMPLES,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def exchange(case: Any) -> None:
        response = case.call(headers=SPECS[spec], params=_token(label))
        statuses.append(response.status_code)
        excluded = list(NOT_CHECKED.get(label, ([], ""))[0])
        excluded += [negative_data_rejection] if spec in ACCEPTS_INVALID else []
        case.validate_response(response, excluded_checks=excluded)

    exchange()
    # The key or token was taken: the cases reached the views, not only the guard.
    assert set(statuses) - {401, 403}, f"every case was refused: {sorted(set(statuses))}"
