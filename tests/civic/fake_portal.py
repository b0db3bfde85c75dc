"""A small fake city portal on 127.0.0.1 speaking docs/openapi/city-portal.yaml.

It keeps its data in a SqlBackend (its own SQLite file) the way a real portal keeps it in its
own database; the point is to run the real HttpBackend client code over a real socket.
`delay` and `fail_status` simulate a slow or broken portal.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from civic import codec, codec_payables
from civic.ports import (
    Citizen,
    Decision,
    DossierError,
    FeePayment,
    FeeUnpaidError,
    IdentityRequiredError,
    IllegalTransitionError,
    InvalidDecisionError,
    PayablePayment,
    PaymentRecord,
    PickupRequiredError,
    ReasonRequiredError,
    RequestStatus,
    TextTooLongError,
    UnknownDocumentTypeError,
    UnknownOfficeError,
    UnknownReasonError,
    UnknownRequestError,
)
from civic.sql import SqlBackend

Answer = tuple[int, Any]


class FakePortal:
    """Serve the city-portal contract over a SqlBackend until `stop()`."""

    def __init__(self, backend: SqlBackend, *, token: str) -> None:
        self.backend = backend
        self.token = token
        self.delay = 0.0
        self.fail_status: int | None = None
        self.calls: list[str] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                portal._serve(self, "GET")

            def do_POST(self) -> None:
                portal._serve(self, "POST")

            def do_PUT(self) -> None:
                portal._serve(self, "PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """Return the portal's base URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakePortal:
        """Start serving in a thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    # --- dispatch ---------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        self.calls.append(f"{method} {parts.path}")
        if self.delay:
            time.sleep(self.delay)
        if self.fail_status is not None:
            self._reply(handler, self.fail_status, {"error": "boom"})
            return
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            self._reply(handler, 401, {"error": "unauthorized"})
            return
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length)) if length else None
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path.removeprefix("/v1")
        for pattern, verb, route in self._routes():
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                args = [unquote(g) for g in match.groups()]
                status, payload = route(*args, query=query, body=body)
                self._reply(handler, status, payload)
                return
        self._reply(handler, 404, {"error": "no_route"})

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _routes(self) -> list[tuple[str, str, Callable[..., Answer]]]:
        return [
            (r"/ping", "GET", self._ping),
            (r"/tax-types", "GET", self._tax_types),
            (r"/assessments", "GET", self._find_assessment),
            (r"/assessments/([^/]+)", "GET", self._assessment),
            (r"/payments", "POST", self._payment),
            (r"/payable-kinds", "GET", self._payable_kinds),
            (r"/payables", "GET", self._find_payable),
            (r"/payables/([^/]+)", "GET", self._payable),
            (r"/payables/([^/]+)/payments", "POST", self._payable_payment),
            (r"/document-types", "GET", self._document_types),
            (r"/document-types/([^/]+)", "GET", self._document_type),
            (r"/offices", "GET", self._offices),
            (r"/offices/([^/]+)", "GET", self._office),
            (r"/requests", "POST", self._create_request),
            (r"/requests", "GET", self._list_requests),
            (r"/requests/([^/]+)", "GET", self._request),
            (r"/requests/([^/]+)/decisions", "POST", self._decide),
            (r"/requests/([^/]+)/fee-payments", "POST", self._fee_payment),
            (r"/requests/([^/]+)/expiry", "POST", self._expire),
            (r"/citizens/([^/]+)", "GET", self._citizen),
            (r"/citizens/([^/]+)", "PUT", self._save_citizen),
        ]

    # --- routes -----------------------------------------------------------------------------

    def _ping(self, **_: Any) -> Answer:
        self.backend.ping()
        return 204, None

    def _tax_types(self, **_: Any) -> Answer:
        return 200, {"items": [codec.tax_type_to_json(t) for t in self.backend.list_tax_types()]}

    def _find_assessment(self, *, query: dict[str, str], **_: Any) -> Answer:
        found = self.backend.find_assessment(query["tax_code"], query["reference"])
        return 200, {"items": [] if found is None else [codec.assessment_to_json(found)]}

    def _assessment(self, assessment_id: str, **_: Any) -> Answer:
        found = self.backend.get_assessment(assessment_id)
        return (
            (404, {"error": "not_found"})
            if found is None
            else (200, codec.assessment_to_json(found))
        )

    def _payment(self, *, body: Any, **_: Any) -> Answer:
        outcome = self.backend.record_payment(codec.paid_from_json(PaymentRecord, body))
        return 200, {"outcome": outcome.value}

    def _payable_kinds(self, **_: Any) -> Answer:
        kinds = self.backend.list_payable_kinds()
        return 200, {"items": [codec_payables.payable_kind_to_json(k) for k in kinds]}

    def _find_payable(self, *, query: dict[str, str], **_: Any) -> Answer:
        found = self.backend.find_payable(query["kind"], query["reference"])
        return 200, {"items": [] if found is None else [codec_payables.payable_to_json(found)]}

    def _payable(self, payable_id: str, **_: Any) -> Answer:
        found = self.backend.get_payable(payable_id)
        if found is None:
            return 404, {"error": "not_found"}
        return 200, codec_payables.payable_to_json(found)

    def _payable_payment(self, payable_id: str, *, body: Any, **_: Any) -> Answer:
        payment = codec.paid_from_json(PayablePayment, body)
        if payment.payable_id != payable_id or self.backend.get_payable(payable_id) is None:
            return 404, {"error": "not_found"}
        return 200, {"outcome": self.backend.record_payable_payment(payment).value}

    def _document_types(self, **_: Any) -> Answer:
        docs = self.backend.list_document_types()
        return 200, {"items": [codec.document_type_to_json(d) for d in docs]}

    def _document_type(self, code: str, **_: Any) -> Answer:
        found = self.backend.get_document_type(code)
        return (
            (404, {"error": "not_found"})
            if found is None
            else (200, codec.document_type_to_json(found))
        )

    def _offices(self, **_: Any) -> Answer:
        return 200, {"items": [codec.office_to_json(o) for o in self.backend.list_offices()]}

    def _office(self, office_id: str, **_: Any) -> Answer:
        found = self.backend.get_office(office_id)
        return (
            (404, {"error": "not_found"}) if found is None else (200, codec.office_to_json(found))
        )

    def _create_request(self, *, body: Any, **_: Any) -> Answer:
        try:
            created = self.backend.create_request(
                owner_phone=body["owner_phone"],
                document_code=body["document_code"],
                idempotency_key=body["idempotency_key"],
                applicant_name=body.get("applicant_name"),
                id_number=body.get("id_number"),
                dossier=body.get("dossier"),
                collect_fee=bool(body.get("collect_fee", False)),
            )
        except UnknownDocumentTypeError:
            return 422, {"error": "unknown_document_type"}
        except IdentityRequiredError:
            return 422, {"error": "identity_required"}
        except DossierError as error:
            return 422, {"error": "invalid_dossier", "field": error.field, "message": str(error)}
        return 201, codec.request_to_json(created)

    def _fee_payment(self, reference: str, *, body: Any, **_: Any) -> Answer:
        payment = codec.paid_from_json(FeePayment, body)
        if payment.reference != reference:
            return 422, {"error": "reference_mismatch"}
        return 200, {"outcome": self.backend.record_fee_payment(payment).value}

    def _expire(self, reference: str, **_: Any) -> Answer:
        if self.backend.get_request(reference) is None:
            return 404, {"error": "not_found"}
        expired = self.backend.expire_request(reference)
        if expired is None:
            return 409, {"error": "not_awaiting_payment"}
        return 200, codec.request_to_json(expired)

    def _list_requests(self, *, query: dict[str, str], **_: Any) -> Answer:
        items = self.backend.list_requests(
            owner_phone=query.get("owner_phone"),
            status=RequestStatus(query["status"]) if "status" in query else None,
            limit=int(query.get("limit", 20)),
            offset=int(query.get("offset", 0)),
            created_before=codec.parse_when(query["created_before"])
            if "created_before" in query
            else None,
        )
        return 200, {"items": [codec.request_to_json(r) for r in items]}

    def _request(self, reference: str, **_: Any) -> Answer:
        found = self.backend.get_request(reference)
        return (
            (404, {"error": "not_found"}) if found is None else (200, codec.request_to_json(found))
        )

    def _decide(self, reference: str, *, body: Any, **_: Any) -> Answer:
        try:
            updated = self.backend.decide(
                reference,
                Decision(body["decision"]),
                agent_id=body["agent_id"],
                reason=body.get("reason"),
                pickup=body.get("pickup"),
                reason_code=body.get("reason_code"),
                office_id=body.get("office_id"),
            )
        except UnknownRequestError:
            return 404, {"error": "not_found"}
        except FeeUnpaidError as error:
            return 409, {"error": "fee_unpaid", "status": error.current.value}
        except IllegalTransitionError as error:
            return 409, {"error": "illegal_transition", "status": error.current.value}
        except TextTooLongError as error:
            return 422, {"error": "text_too_long", "field": error.field, "limit": error.limit}
        except ReasonRequiredError as error:
            return 422, {"error": "reason_required", "message": str(error)}
        except PickupRequiredError as error:
            return 422, {"error": "pickup_required", "message": str(error)}
        except UnknownReasonError as error:
            return 422, {"error": "unknown_reason_code", "message": str(error)}
        except UnknownOfficeError as error:
            return 422, {"error": "unknown_office", "message": str(error)}
        except InvalidDecisionError as error:  # pragma: no cover - every subclass is above
            return 422, {"error": "invalid", "message": str(error)}
        return 200, codec.request_to_json(updated)

    def _citizen(self, phone: str, **_: Any) -> Answer:
        found = self.backend.get_citizen(phone)
        return (
            (404, {"error": "not_found"}) if found is None else (200, codec.citizen_to_json(found))
        )

    def _save_citizen(self, phone: str, *, body: Any, **_: Any) -> Answer:
        self.backend.save_citizen(
            Citizen(
                phone=phone,
                name=body.get("name"),
                id_number=body.get("id_number"),
                language=body.get("language"),
            )
        )
        return 204, None
