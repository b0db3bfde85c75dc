"""Supervisors' payments page: search, the review table, refunded with a note (audited)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask

from gateway.console.web import console
from gateway.services import services_of
from payments.intent_store import NewIntent
from payments.store import PaymentStore
from tests.console.conftest import SUPERVISOR, Staff


def _store(app: Flask) -> PaymentStore:
    return services_of(app).get(PaymentStore)


def test_search_finds_a_payment_by_phone_and_masks_it(
    supervisor: Staff, console_app: Flask
) -> None:
    intent, _ = _store(console_app).intents.create_intent(
        NewIntent(
            idempotency_key="console-search", session_id="s1", assessment_id="a1",
            assessment_reference="TF-2026-0042", tax_code="market", amount=25000,
            currency="CDF", phone="+243810000042", operator="mpesa", provider="sandbox",
            lang="fr", deadline_at=datetime.now(UTC) + timedelta(minutes=5),
        )
    )  # fmt: skip
    for query in ("+243810000042", "TF-2026-0042"):
        html = supervisor.get(f"/console/payments?q={query.replace('+', '%2B')}").get_data(
            as_text=True
        )
        assert "TF-2026-0042" in html and "25000 CDF" in html, query
        assert "+243810000042" not in html.split('id="found"')[1]  # masked in the table
    assert "Aucun paiement ne correspond" in supervisor.get("/console/payments?q=nothing").get_data(
        as_text=True
    )
    assert intent.id


def test_a_review_is_marked_refunded_with_a_note_once_written(
    supervisor: Staff, console_app: Flask
) -> None:
    reviews = _store(console_app).reviews
    reviews.add_review(dedupe_key="k1", provider="sandbox", reason="amount_mismatch",
                       detail="callback says 2000, intent 25000")  # fmt: skip
    (review,) = reviews.list_reviews()
    html = supervisor.get("/console/payments").get_data(as_text=True)
    assert "amount_mismatch" in html and "callback says 2000" in html
    path = f"/console/payments/reviews/{review.id}/refunded"
    assert supervisor.post(path, note="  ").status_code == 400
    assert supervisor.post("/console/payments/reviews/999/refunded", note="x").status_code == 404
    done = supervisor.post(path, note="M-Pesa reversal QX12 on 30/11")
    assert done.status_code == 302
    html = supervisor.get(done.location).get_data(as_text=True)
    assert f"remboursé par {SUPERVISOR}" in html and "M-Pesa reversal QX12" in html
    (action,) = reviews.actions()[review.id]
    assert (action.action, action.staff) == ("refunded", SUPERVISOR)
    logged = [e.action for e in console(console_app).audit.recent(actor=SUPERVISOR)]
    assert "payments.refunded" in logged


def test_agents_do_not_reach_payments(agent: Staff) -> None:
    assert agent.get("/console/payments").status_code == 403
