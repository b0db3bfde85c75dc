"""The one privacy rule for request data, on every channel (USSD, SMS, HTTP).

The phone that filed a request sees everything about it; any other phone gets exactly the
answer for an unknown reference. Callers ask `visible_request` and branch on None only, so
"someone else's" and "nobody's" cannot be told apart by text, screens or code path; each None
is a guess and the channel charges it to the phone's lookup budget (runtime.guesses).
Bookings follow the same rule: only the phone that booked may see, move or cancel one.
"""

from __future__ import annotations

from civic.appointments import Booking
from civic.ports import Backend, DocumentRequest


def visible_request(backend: Backend, reference: str, phone: str) -> DocumentRequest | None:
    """Return request `reference` when `phone` filed it; None when unknown or not theirs."""
    found = backend.get_request(reference)
    if found is None or found.owner_phone != phone:
        return None
    return found


def visible_booking(backend: Backend, code: str, phone: str) -> Booking | None:
    """Return booking `code` when `phone` made it; None when unknown or not theirs."""
    found = backend.get_booking(code)
    if found is None or found.phone != phone:
        return None
    return found
