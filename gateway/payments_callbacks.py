"""Mobile-money provider callbacks: authenticate, persist the raw body, enqueue, answer 200.

`POST /payments/<provider>/callback/t/<PAYMENT_CALLBACK_TOKEN>?intent=<intent id>` (or `?token=`)

The handler does no payment work: it stores the body as received (identical retries are
stored once) and enqueues `payments.jobs.process_callback(id)`, so a provider retrying for
hours is answered at once and never credits twice. A Daraja callback looks like::

    {"Body": {"stkCallback": {"MerchantRequestID": "29115-34620561-1",
      "CheckoutRequestID": "ws_CO_191220191020363925", "ResultCode": 0,
      "ResultDesc": "The service request is processed successfully.",
      "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": 1.0},
        {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
        {"Name": "PhoneNumber", "Value": 254708374149}]}}}}

Airtel posts to the one URL registered on its app (no `?intent=`; `transaction.id` is ours)::

    {"transaction": {"id": "<intent id>", "message": "Paid CDF 25,000 ...", "status_code": "TS",
      "airtel_money_id": "MP210603.1234.L06941"}, "hash": "<base64, when enabled>"}

Vodacom's M-Pesa OpenAPI result is answered with its documented acknowledgement
(payments.providers.vodacom.acknowledgement).
"""

from __future__ import annotations

import logging
from typing import Final

import redis
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from gateway.callback_auth import callback_route
from gateway.errors import describe
from gateway.json_bodies import TOO_DEEP, too_deep
from payments.providers import vodacom
from payments.service import PaymentService
from runtime.logs import outage

log = logging.getLogger(__name__)

blueprint = Blueprint("payments_callbacks", __name__)

MAX_BODY_BYTES: Final = 64 * 1024
MAX_HINT_LENGTH: Final = 64


def _answer(status: int, code: int, text: str) -> Response:
    # Daraja reads {"ResultCode", "ResultDesc"}; other providers only look at the status.
    response = jsonify(ResultCode=code, ResultDesc=text)
    response.status_code = status
    return response


def _refused() -> Response:
    return _answer(403, 1, "forbidden")


@blueprint.errorhandler(HTTPException)
def _refused_before_the_view(error: HTTPException) -> Response:
    # A body too large, refused by the app's guards: the provider's shape.
    return _answer(error.code or 500, 1, describe(error))


@callback_route(blueprint, "/payments/<provider>/callback", "payments", refuse=_refused)
def callback(provider: str) -> Response:
    """Accept one provider callback for processing in a job."""
    services = current_app.extensions["guichet"]
    service = services.get(PaymentService)
    if provider not in service.providers:
        return _answer(404, 1, "unknown provider")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _answer(413, 1, "body too large")
    # The JSON guard (gateway/json_bodies.py) may have read the body already: same bytes.
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        return _answer(413, 1, "body too large")
    if not raw.strip():
        return _answer(400, 1, "empty body")
    body = raw.decode("utf-8", errors="replace")
    hint = (request.args.get("intent") or "")[:MAX_HINT_LENGTH] or None
    # Too deep to parse: still stored (the job holds it for review), but answered 400.
    malformed = too_deep(raw)
    try:
        callback_id = service.accept_callback(provider, body, hint)
    except (SQLAlchemyError, redis.RedisError) as error:
        # Not stored: a non-2xx answer makes the provider retry later, which is what we want.
        log.error(
            "payment callback for %s not stored: %s",
            provider,
            type(error).__name__,
            extra=outage("redis" if isinstance(error, redis.RedisError) else "database"),
        )
        return _answer(503, 1, "try again later")
    log.info("payment callback %s from %s stored", callback_id, provider)
    if malformed:
        return _answer(400, 1, f"{TOO_DEEP}; held for review")
    if provider == vodacom.NAME:  # M-Pesa OpenAPI reads its own acknowledgement
        return jsonify(vodacom.acknowledgement(body))
    return _answer(200, 0, "Accepted")
