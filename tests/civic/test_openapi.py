"""The OpenAPI files match what the code serves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import requests
import yaml
from flask import Flask

from civic.seed import seed_demo
from tests.civic.fake_portal import FakePortal

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"
METHODS = {"get", "post", "put", "delete", "patch"}


def _spec(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((DOCS / name).read_text(encoding="utf-8"))
    assert spec["openapi"].startswith("3.1")
    return spec


def _operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }


def test_agents_spec_lists_exactly_the_apps_request_routes(app: Flask) -> None:
    served = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api/v1/requests", "/api/v1/offices", "/api/v1/appointments"))
        for method in rule.methods or ()
        if method.lower() in METHODS
    }
    assert served, "no /api/v1/requests or /api/v1/offices route found"
    assert served == _operations(_spec("agents.yaml"))


def test_agents_responses_match_the_spec_schema(app: Flask, app_config: dict[str, Any]) -> None:
    seed_demo(app_config["database_url"])
    spec = _spec("agents.yaml")
    schema = {**spec["components"]["schemas"]["DocumentRequest"], "components": spec["components"]}
    body = (
        app.test_client()
        .get("/api/v1/requests?per_page=50", headers={"Authorization": "Bearer demo-agent-key"})
        .get_json()
    )
    assert body["items"], "the seeded demo requests are listed"
    for item in body["items"]:
        jsonschema.validate(item, schema)
    offices = (
        app.test_client()
        .get("/api/v1/offices", headers={"Authorization": "Bearer demo-agent-key"})
        .get_json()
    )
    office_schema = {**spec["components"]["schemas"]["Office"], "components": spec["components"]}
    assert offices["items"]
    for office in offices["items"]:
        jsonschema.validate(office, office_schema)


def test_portal_spec_lists_exactly_the_fake_portals_routes(portal: FakePortal) -> None:
    served = set()
    for pattern, method, _ in portal._routes():
        path = pattern.replace("([^/]+)", "{}")
        served.add((method, path))
    documented = {
        (m, re.sub(r"\{\w+\}", "{}", p)) for m, p in _operations(_spec("city-portal.yaml"))
    }
    assert served, "the fake portal serves no route"
    assert served == documented


def test_portal_answers_match_the_spec_schemas(portal: FakePortal) -> None:
    spec = _spec("city-portal.yaml")
    headers = {"Authorization": f"Bearer {portal.token}"}
    checks = {
        "/tax-types": "TaxTypeList",
        "/document-types": "DocumentTypeList",
        "/offices": "OfficeList",
        "/offices/townhall": "Office",
        "/assessments?tax_code=road&reference=100001": "AssessmentList",
        "/payable-kinds": "PayableKindList",
        "/payables?kind=school_fees&reference=200001": "PayableList",
        "/requests?owner_phone=%2B243810000001": "RequestList",
        "/citizens/%2B243810000001": "Citizen",
    }
    for path, name in checks.items():
        body = requests.get(portal.url + path, headers=headers, timeout=5).json()
        if name.endswith("List"):
            assert body["items"], f"{path}: an empty list would validate against anything"
        schema = {**spec["components"]["schemas"][name], "components": spec["components"]}
        jsonschema.validate(body, schema)
