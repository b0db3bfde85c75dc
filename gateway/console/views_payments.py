"""Supervisors' payments page: search payments, review mismatches, mark one refunded.

Reviews are what the payments package could not settle alone (a callback contradicting its
intent, a settlement the back office refused: payments/review_store.py); they are never
credited automatically. Marking one refunded appends an action with a note (the review row
itself never changes) and a line of the staff audit log.
"""

from __future__ import annotations

from flask import current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.accounts import Role
from gateway.console.web import audit, blueprint, nav, page, refusal, requires, staff, t
from gateway.services import services_of
from payments.review_store import UnknownReviewError
from payments.store import PaymentStore
from runtime.masking import mask_phone

nav("console.payments", "nav_payments", Role.SUPERVISOR, order=40)

MAX_NOTE = 1000


def _store() -> PaymentStore:
    return services_of(current_app).get(PaymentStore)


@blueprint.get("/payments")
@requires(Role.SUPERVISOR)
def payments() -> ResponseReturnValue:
    """Show the search box, its results, and the review table with what was done."""
    store = _store()
    query = request.args.get("q", "").strip()[:128]
    found = store.intents.search(query) if query else []
    if query:
        audit("payments.search", target=query[:120])
    actions = store.reviews.actions()
    reviews = [
        {"review": review, "actions": actions.get(review.id, [])}
        for review in reversed(store.reviews.list_reviews())
    ]
    done = request.args.get("refunded", "")
    return page(
        "console/payments.html",
        query=query,
        found=[{"intent": i, "phone": mask_phone(i.phone)} for i in found],
        reviews=reviews,
        notice=t("refund_recorded", review=done) if done.isdigit() else "",
    )


@blueprint.post("/payments/reviews/<int:review_id>/refunded")
@requires(Role.SUPERVISOR)
def mark_refunded(review_id: int) -> ResponseReturnValue:
    """Record that the money of a review was refunded, with the supervisor's note."""
    user = staff()
    assert user is not None
    note = request.form.get("note", "").strip()[:MAX_NOTE]
    if not note:
        return refusal("refund_note_required", 400)
    try:
        _store().reviews.record_action(review_id, action="refunded", note=note, staff=user.email)
    except UnknownReviewError:
        return refusal("not_found", 404)
    audit("payments.refunded", target=f"review {review_id}", detail=note)
    return redirect(url_for("console.payments", refunded=review_id))
