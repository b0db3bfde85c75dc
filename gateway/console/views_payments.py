"""Supervisors' payments page: find a payment, read the review table, mark a refund.

The review table (payments.review_store) lists what the gateway would not credit on its own:
callbacks matching no payment, callbacks the operator's status query contradicted, settlements
the back office refused. Money taken there is given back by a person; the supervisor records
that here with a note (payment_refunds, one mark per review, audited).
"""

from __future__ import annotations

from typing import Final

from flask import current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.accounts import Role
from gateway.console.supervision import phone_e164, stores
from gateway.console.web import audit, blueprint, nav, page, refusal, requires, staff, t
from gateway.services import services_of
from payments.model import IntentStatus
from payments.store import PaymentStore
from runtime.masking import mask_phone

MAX_QUERY: Final = 64
MAX_NOTE: Final = 1000
RESULTS: Final = 100

nav("console.payments", "nav_payments", Role.SUPERVISOR, order=40)


def _store() -> PaymentStore:
    return services_of(current_app).get(PaymentStore)


def _shown_phone(phone: str) -> str:
    # After the retention job the column holds `ref:<keyed hash>`: shown as it is.
    return phone if phone.startswith("ref:") else mask_phone(phone)


@blueprint.get("/payments")
@requires(Role.SUPERVISOR)
def payments() -> ResponseReturnValue:
    """List the reviews; `?q=` finds a payment by a reference (the review table's links)."""
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    return _payments(query if phone_e164(query) is None else "", "")


@blueprint.post("/payments/search")
@requires(Role.SUPERVISOR)
def payments_search() -> ResponseReturnValue:
    """Search payments by reference, phone (or its keyed hash) and status.

    A POST: a phone number typed here must not travel in a URL (access logs, history).
    """
    return _payments(request.form.get("q", "").strip()[:MAX_QUERY], request.form.get("status", ""))


def _payments(query: str, raw_status: str) -> ResponseReturnValue:
    status = IntentStatus(raw_status) if raw_status in set(IntentStatus) else None
    store = _store()
    found = None
    if query or status is not None:
        references: list[str] = []
        phones: list[str] = []
        phone = phone_e164(query) if query else None
        if phone is not None:
            phones = [phone, "ref:" + stores().phone_ref(phone)]
        elif query.startswith("ref:"):
            phones = [query]
        elif query:
            references = [query]
        found = [
            {"intent": i, "phone": _shown_phone(i.phone)}
            for i in store.intents.search(
                references=references, phones=phones, status=status, limit=RESULTS
            )
        ]
        audit(
            "payments.search",
            target=query if phone is None else mask_phone(phone),
            detail=f"status={raw_status or '-'} found={len(found)}",
        )
    refunds = store.reviews.refunds()
    reviews = list(reversed(store.reviews.list_reviews()))  # newest first
    done = request.args.get("refunded", "")
    return page(
        "console/payments.html",
        query=query,
        status=raw_status if status is not None else "",
        statuses=list(IntentStatus),
        found=found,
        reviews=reviews,
        refunds=refunds,
        notice=t("payments_refunded", review=done) if done.isdigit() else "",
    )


@blueprint.post("/payments/reviews/<review>/refund")
@requires(Role.SUPERVISOR)
def mark_refunded(review: str) -> ResponseReturnValue:
    """Record that the money of a review was given back, with the supervisor's note."""
    user = staff()
    assert user is not None
    # A plain segment, not <int:>: the role is checked before anything says "not found".
    if not review.isdigit() or len(review) > 12:
        return refusal("not_found", 404)
    review_id = int(review)
    note = request.form.get("note", "").strip()[:MAX_NOTE]
    if not note:
        return refusal("payments_note_needed", 400)
    try:
        marked = _store().reviews.mark_refunded(review_id, note=note, marked_by=user.email)
    except LookupError:
        return refusal("not_found", 404)
    if not marked:
        return refusal("payments_already_refunded", 409)
    audit("payments.refunded", target=f"review:{review_id}", detail=note)
    return redirect(url_for("console.payments", refunded=review_id))
