"""Load a pack's catalogue and demo data (cities/<id>/catalogue.yaml) into SQL, idempotently."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection, Engine

from civic import codec, sql, workflows
from civic.appointments import CatalogueError, parse_catalogue
from civic.ports import (
    Citizen,
    Decision,
    DocumentRequest,
    FeePayment,
    FeeStatus,
    HistoryEvent,
    Reason,
)
from civic.references import make_reference
from civic.seed_payables import seed_payables
from runtime.packs import DEFAULT_CITY, pack

# The default pack's catalogue (CITY picks another: gateway.schema passes its path).
DEMO_CITY: Final = pack(DEFAULT_CITY).catalogue
SEED_AGENT: Final = "seed"
DEMO_MARK: Final = "demo_city"
_FIRST_BODY: Final = 1_000_001
# What the SMS templates and USSD placeholders budget for (sms_templates.yaml, menus.yaml).
MAX_REASON_TEXT: Final = 80
OFFICE_LIMITS: Final = {"names": 40, "address": 60, "hours": 40}


class SeedError(ValueError):
    """The demo file is malformed."""


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """What a seeding run found or added."""

    tax_types: int
    document_types: int
    assessments_added: int
    requests: tuple[str, ...]  # references of the demo requests, in file order


def load_city(path: Path = DEMO_CITY) -> dict[str, Any]:
    """Read and minimally check a demo city file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("version") != 1:
        raise SeedError(f"{path}: expected a version 1 mapping")
    for key in ("city", "taxes", "assessments", "documents", "citizens", "requests"):
        if key not in data:
            raise SeedError(f"{path}: missing {key!r}")
    return data


def _languages(city: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    languages = city["city"].get("languages")
    return (tuple(str(lang) for lang in languages),) if languages else ()


def seed_demo(database_url: str, *, path: Path = DEMO_CITY) -> SeedSummary:
    """Create the schema if needed and load the demo city; safe to run again."""
    city = load_city(path)
    counter = itertools.count(_FIRST_BODY)
    backend = sql.SqlBackend(
        sql.make_engine(database_url, timeout=10.0),
        reference_factory=lambda: make_reference(next(counter)),
    )
    try:
        sql.migrate_engine(backend.engine)
        currency = str(city["city"]["currency"])
        with backend.engine.begin() as conn:
            _mark_demo(conn, str(city["city"]["name"]))
            _upsert_tax_types(conn, city["taxes"])
            _upsert_document_types(conn, city["documents"], currency, _workflows(city, path))
            _upsert_offices(conn, city.get("offices", []))
            rows = itertools.chain(
                _assessment_rows(city["taxes"], city["assessments"], currency),
                _payment_demo_rows(city["taxes"], city.get("payment_demos", []), currency),
            )
            added = _add_assessments(conn, rows)
            seed_payables(conn, city, currency)
        try:
            # The pack's languages (catalogue `city.languages`), the menus' own.
            services = parse_catalogue(city.get("appointments"), *_languages(city))
        except CatalogueError as error:
            raise SeedError(f"{path}: {error}") from error
        backend.appointments.save_appointment_services(services)
        for person in city["citizens"]:
            backend.save_citizen(
                Citizen(
                    phone=str(person["phone"]),
                    name=person.get("name"),
                    id_number=person.get("id_number"),
                    language=person.get("language"),
                )
            )
        owner = str(city["citizens"][0]["phone"])
        refs = tuple(
            _seed_request(backend, owner, index, spec).reference
            for index, spec in enumerate(city["requests"], start=1)
        )
        return SeedSummary(len(city["taxes"]), len(city["documents"]), added, refs)
    finally:
        backend.dispose()


def demo_data(engine: Engine) -> str | None:
    """Say which demo data the database holds (None when none); raise SQLAlchemyError if down."""
    tables = set(sa.inspect(engine).get_table_names())
    with engine.connect() as conn:
        if sql.seed_marks.name in tables:
            city = conn.execute(
                sa.select(sql.seed_marks.c.city).where(sql.seed_marks.c.mark == DEMO_MARK)
            ).scalar_one_or_none()
            if city is not None:
                return f"the demo city {city} (loaded by seed-demo)"
        # Databases seeded before the mark existed: only seed-demo decides as agent "seed".
        if sql.request_history.name in tables:
            found = conn.execute(
                sa.select(sql.request_history.c.reference)
                .where(sql.request_history.c.agent_id == SEED_AGENT)
                .limit(1)
            ).first()
            if found is not None:
                return "demo requests decided by seed-demo's agent"
    return None


def _mark_demo(conn: Connection, city: str) -> None:
    found = conn.execute(
        sa.select(sql.seed_marks.c.mark).where(sql.seed_marks.c.mark == DEMO_MARK)
    ).first()
    if found is None:
        conn.execute(
            sql.seed_marks.insert().values(mark=DEMO_MARK, city=city, seeded_at=datetime.now(UTC))
        )


def _upsert(conn: Connection, table: sa.Table, key: str, rows: list[dict[str, Any]]) -> None:
    existing = set(conn.execute(sa.select(table.c[key])).scalars())
    for row in rows:
        if row[key] in existing:
            conn.execute(table.update().where(table.c[key] == row[key]).values(row))
        else:
            conn.execute(table.insert().values(row))


def _upsert_tax_types(conn: Connection, taxes: list[Mapping[str, Any]]) -> None:
    rows = [
        {"code": str(t["code"]), "position": i, "names": dict(t["names"])}
        for i, t in enumerate(taxes)
    ]
    _upsert(conn, sql.tax_types, "code", rows)


def _workflows(city: Mapping[str, Any], path: Path) -> dict[str, workflows.Transitions]:
    """Return each kind's transitions; refuse a catalogue `menus lint` would report."""
    kinds = {
        f"documents.{d.get('code')}": str(d.get("kind") or "document") for d in city["documents"]
    }
    found = list(workflows.problems(city.get("workflows"), kinds))
    if found:
        raise SeedError(f"{path}: " + "; ".join(f"{p}: {m}" for p, m in found))
    return workflows.parse(city.get("workflows"))


def _upsert_document_types(
    conn: Connection,
    documents: list[Mapping[str, Any]],
    currency: str,
    kinds: Mapping[str, workflows.Transitions],
) -> None:
    rows = [
        {
            "code": str(d["code"]),
            "position": i,
            "names": dict(d["names"]),
            "fee": int(d["fee"]),
            "currency": currency,
            "required_documents": {k: list(v) for k, v in d["required_documents"].items()},
            "needs_visit": bool(d["needs_visit"]),
            "requires_identity": bool(d["requires_identity"]),
            "delay_days": int(d["delay_days"]),
            "office": dict(d["office"]),
            "reasons": sql.reasons_to_rows(_reasons(d)),
            # Through the codec: the catalogue's `fields:` is read exactly as the portal's.
            "fields": codec.fields_to_json(codec.fields_from_json(d.get("fields") or [])),
            "at_counter": {k: list(v) for k, v in (d.get("at_counter") or {}).items()},
            # A document delivery follows civic.workflow.TRANSITIONS (NULL); other kinds
            # carry their workflow, so each backend applies it without the catalogue file.
            "kind": str(d.get("kind") or workflows.DOCUMENT_KIND),
            "transitions": workflows.to_json(kinds.get(str(d.get("kind") or ""), {})) or None,
            "appointment_service": d.get("appointment_service") or None,
        }
        for i, d in enumerate(documents)
    ]
    _upsert(conn, sql.document_types, "code", rows)


def _reasons(document: Mapping[str, Any]) -> tuple[Reason, ...]:
    try:
        reasons = sql.reasons_from_rows(document.get("reasons") or [])
    except (KeyError, TypeError, ValueError) as error:
        raise SeedError(f"documents.{document.get('code')}.reasons: {error}") from error
    for reason in reasons:
        for lang, text in reason.texts.items():
            if len(text) > MAX_REASON_TEXT:
                raise SeedError(f"reason {reason.code} [{lang}] longer than {MAX_REASON_TEXT}")
    return reasons


def _upsert_offices(conn: Connection, offices: list[Mapping[str, Any]]) -> None:
    rows = []
    for i, office in enumerate(offices):
        row: dict[str, Any] = {"id": str(office["id"]), "position": i}
        for field, limit in OFFICE_LIMITS.items():
            texts = {str(k): str(v) for k, v in office[field].items()}
            too_long = [lang for lang, text in texts.items() if len(text) > limit]
            if too_long:
                raise SeedError(f"office {row['id']}.{field} {too_long} longer than {limit}")
            row[field] = texts
        rows.append(row)
    _upsert(conn, sql.offices, "id", rows)


def _assessment_row(
    tax: Mapping[str, Any], reference: str, amount: int, currency: str, *, paid: bool
) -> dict[str, Any]:
    due = tax["due_date"]
    return {
        "id": f"{tax['code']}-{reference}-{tax['period']}",
        "tax_code": str(tax["code"]),
        "reference": reference,
        "amount": amount,
        "currency": currency,
        "period": str(tax["period"]),
        "due_date": due if isinstance(due, date) else date.fromisoformat(str(due)),
        "paid": paid,
        "paid_at": None,
    }


def _assessment_rows(
    taxes: list[Mapping[str, Any]], spec: Mapping[str, Any], currency: str
) -> Iterator[dict[str, Any]]:
    for number in range(int(spec["first"]), int(spec["last"]) + 1):
        paid = number % int(spec["paid_every"]) == 0
        for tax in taxes:
            amount = int(tax["base_amount"]) + (number % 10) * int(spec["amount_step"])
            yield _assessment_row(tax, str(number), amount, currency, paid=paid)


def _payment_demo_rows(
    taxes: list[Mapping[str, Any]], demos: list[Mapping[str, Any]], currency: str
) -> Iterator[dict[str, Any]]:
    by_code = {str(tax["code"]): tax for tax in taxes}
    for demo in demos:
        tax = by_code.get(str(demo.get("tax")))
        if tax is None:
            raise SeedError(f"payment_demos: unknown tax {demo.get('tax')!r}")
        yield _assessment_row(
            tax, str(demo["reference"]), int(demo["amount"]), currency, paid=False
        )


def _add_assessments(conn: Connection, rows: Iterable[dict[str, Any]]) -> int:
    existing = set(conn.execute(sa.select(sql.assessments.c.id)).scalars())
    missing = [r for r in rows if r["id"] not in existing]
    if missing:
        conn.execute(sql.assessments.insert(), missing)
    return len(missing)


def _decision(step: Any) -> tuple[Decision, Mapping[str, Any]]:
    if isinstance(step, str):
        return Decision(step), {}
    if isinstance(step, Mapping) and len(step) == 1:
        ((name, detail),) = step.items()
        if isinstance(detail, Mapping):
            return Decision(name), detail
    raise SeedError(f"cannot read decision {step!r}")


def _seed_request(
    backend: sql.SqlBackend, owner: str, index: int, spec: Mapping[str, Any]
) -> DocumentRequest:
    needs_identity = backend.get_document_type(str(spec["document"]))
    person = backend.get_citizen(owner)
    identity = needs_identity is not None and needs_identity.requires_identity and person
    fee = str(spec.get("fee", "paid"))
    if fee not in {"paid", "due", "awaiting"}:
        raise SeedError(f"requests[{index}]: fee is paid, due or awaiting, not {fee!r}")
    request = backend.create_request(
        owner_phone=owner,
        document_code=str(spec["document"]),
        idempotency_key=f"seed-demo-{index}",
        applicant_name=person.name if identity and person else None,
        id_number=person.id_number if identity and person else None,
        dossier={str(k): str(v) for k, v in (spec.get("dossier") or {}).items()},
        collect_fee=fee == "awaiting",
    )
    if fee == "paid" and request.fee_status is FeeStatus.DUE:
        backend.record_fee_payment(
            FeePayment(
                payment_id=f"seed-demo-{index}",
                reference=request.reference,
                amount=request.fee,
                currency=request.currency,
                phone=owner,
                operator="seed",
                provider_reference="seed",
                paid_at=request.created_at,
                receipt_code="",
            )
        )
        request = backend.get_request(request.reference) or request
    steps = [_decision(step) for step in spec.get("decisions", [])]
    # Resume where an interrupted run stopped: the history has one entry per applied step
    # (after the creation entry and the seeded fee payment).
    done = sum(1 for c in request.history[1:] if c.event is not HistoryEvent.FEE_PAID)
    for decision, detail in steps[done:]:
        request = _apply(backend.decide, request.reference, decision, detail)
    return request


def _apply(
    decide: Callable[..., DocumentRequest],
    reference: str,
    decision: Decision,
    detail: Mapping[str, Any],
) -> DocumentRequest:
    text = detail.get("text")
    if decision is Decision.READY:
        return decide(
            reference, decision, agent_id=SEED_AGENT, office_id=detail.get("office"), pickup=text
        )
    return decide(
        reference, decision, agent_id=SEED_AGENT, reason_code=detail.get("code"), reason=text
    )
