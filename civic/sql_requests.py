"""Document requests: filing, reading, agents' decisions, fees and expiry.

A decision updates "WHERE version = what I read" (optimistic) and re-reads on a race, so two
agents deciding at once never both win.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from civic import workflow
from civic.cipher import open_dossier, seal_dossier, sealed_fields
from civic.ports import (
    BackendUnavailableError,
    Decision,
    DocumentRequest,
    DocumentType,
    FeePayment,
    FeeStatus,
    IdentityRequiredError,
    IllegalTransitionError,
    RecordOutcome,
    RequestStatus,
    UnknownDocumentTypeError,
    UnknownRequestError,
)
from civic.sql_catalogue import SqlCatalogue
from civic.sql_engine import guarded
from civic.sql_rows import REQUESTS, history_values, load_requests
from civic.sql_tables import request_history, requests
from runtime.sealing import Sealer

_NEW_REFERENCE_TRIES: Final = 8
_DECIDE_TRIES: Final = 3
# What a decision, a fee payment or an expiry may change; the rest of a request is as filed.
_DECIDED: Final = (
    "status",
    "reason",
    "pickup",
    "reason_code",
    "office_id",
    "fee_status",
    "fee_receipt",
)


class SqlRequests:
    """Document requests and their history."""

    def __init__(
        self,
        engine: Engine,
        catalogue: SqlCatalogue,
        *,
        reference_factory: Callable[[], str],
        clock: Callable[[], datetime],
        cipher: Sealer,
    ) -> None:
        self._engine = engine
        self._catalogue = catalogue
        self._new_reference = reference_factory
        self._clock = clock
        # ID numbers and dates of birth are sealed on write and opened on read (civic/cipher).
        self._cipher = cipher

    @guarded
    def create_request(
        self,
        *,
        owner_phone: str,
        document_code: str,
        idempotency_key: str,
        applicant_name: str | None = None,
        id_number: str | None = None,
        dossier: Mapping[str, str] | None = None,
        collect_fee: bool = False,
        announce: bool = False,
    ) -> DocumentRequest:
        """Create a request (awaiting_payment or submitted); the same key returns it again.

        `announce` marks the creation entry's SMS alert as owed, in the same transaction.
        """
        existing = self._request_by_key(idempotency_key)
        if existing is not None:
            return existing
        document = self._catalogue.get_document_type(document_code)
        if document is None:
            raise UnknownDocumentTypeError(document_code)
        applicant_name = (applicant_name or "").strip() or None
        id_number = (id_number or "").strip() or None
        if document.requires_identity and (applicant_name is None or id_number is None):
            raise IdentityRequiredError(document_code)
        cleaned = workflow.check_dossier(document, dossier)
        for _ in range(_NEW_REFERENCE_TRIES):
            request = workflow.submitted(
                reference=self._new_reference(),
                document_code=document_code,
                owner_phone=owner_phone,
                at=self._clock(),
                applicant_name=applicant_name,
                id_number=id_number,
                dossier=cleaned,
                fee=document.fee,
                currency=document.currency,
                collect_fee=collect_fee,
            )
            try:
                with self._engine.begin() as conn:
                    self._insert_request(
                        conn, self._sealed(request, document), idempotency_key, announce=announce
                    )
                return request
            except exc.IntegrityError:
                # Either the key raced with a twin call, or the random reference is taken.
                existing = self._request_by_key(idempotency_key)
                if existing is not None:
                    return existing
        raise BackendUnavailableError("could not allocate a free request reference")

    def _insert_request(
        self, conn: Connection, request: DocumentRequest, key: str, *, announce: bool
    ) -> None:
        conn.execute(
            requests.insert().values(
                {
                    **REQUESTS.values(request),
                    "idempotency_key": key,
                    "version": len(request.history),
                }
            )
        )
        conn.execute(
            request_history.insert(),
            [
                history_values(request.reference, seq, c, announce=announce)
                for seq, c in enumerate(request.history)
            ],
        )

    def _sealed(self, request: DocumentRequest, document: DocumentType) -> DocumentRequest:
        return dataclasses.replace(
            request,
            id_number=self._cipher.seal(request.id_number),
            dossier=seal_dossier(self._cipher, request.dossier, sealed_fields(document)),
        )

    def _opened(self, request: DocumentRequest) -> DocumentRequest:
        return dataclasses.replace(
            request,
            id_number=self._cipher.open(request.id_number),
            dossier=open_dossier(self._cipher, request.dossier),
        )

    def _request_by_key(self, key: str) -> DocumentRequest | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(requests).where(requests.c.idempotency_key == key)).first()
            return None if row is None else self._opened(load_requests(conn, [row])[0])

    @guarded
    def get_request(self, reference: str) -> DocumentRequest | None:
        """Return a request by reference."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(requests).where(requests.c.reference == reference)).first()
            return None if row is None else self._opened(load_requests(conn, [row])[0])

    @guarded
    def list_requests(
        self,
        *,
        owner_phone: str | None = None,
        status: RequestStatus | None = None,
        limit: int = 20,
        offset: int = 0,
        created_before: datetime | None = None,
    ) -> list[DocumentRequest]:
        """Return requests, newest first."""
        query = sa.select(requests)
        if created_before is not None:
            query = query.where(requests.c.created_at < created_before)
        if owner_phone is not None:
            query = query.where(requests.c.owner_phone == owner_phone)
        if status is not None:
            query = query.where(requests.c.status == status.value)
        query = query.order_by(requests.c.created_at.desc(), requests.c.reference.desc())
        query = query.limit(max(0, limit)).offset(max(0, offset))
        with self._engine.connect() as conn:
            return [self._opened(r) for r in load_requests(conn, conn.execute(query).all())]

    @guarded
    def decide(
        self,
        reference: str,
        decision: Decision,
        *,
        agent_id: str,
        reason: str | None = None,
        pickup: str | None = None,
        reason_code: str | None = None,
        office_id: str | None = None,
        announce: bool = False,
    ) -> DocumentRequest:
        """Apply an agent's decision; raise IllegalTransitionError, FeeUnpaidError, ...

        `announce` marks the new entry's SMS alert as owed, in the same transaction.
        """
        for _ in range(_DECIDE_TRIES):
            current = self.get_request(reference)
            if current is None:
                raise UnknownRequestError(reference)
            updated = workflow.apply(
                current,
                decision,
                agent_id=agent_id,
                at=self._clock(),
                document=self._catalogue.get_document_type(current.document_code),
                office_ids=[o.id for o in self._catalogue.list_offices()],
                reason=reason,
                pickup=pickup,
                reason_code=reason_code,
                office_id=office_id,
            )
            if self._commit(current, updated, announce=announce):
                return updated
            # Another agent decided in between: re-read and judge again from the new status.
        raise BackendUnavailableError("the request kept changing; try again")

    @guarded
    def record_fee_payment(self, payment: FeePayment) -> RecordOutcome:
        """Settle a request's fee (awaiting_payment/expired -> submitted); idempotent by id."""
        for _ in range(_DECIDE_TRIES):
            current = self.get_request(payment.reference)
            if current is None:
                return RecordOutcome.UNKNOWN_REQUEST
            with self._engine.connect() as conn:
                paid_by = conn.execute(
                    sa.select(requests.c.fee_payment_id).where(
                        requests.c.reference == payment.reference
                    )
                ).scalar_one_or_none()
            if paid_by == payment.payment_id:
                return RecordOutcome.ALREADY_RECORDED
            if current.fee_status is not FeeStatus.DUE:
                return RecordOutcome.FEE_ALREADY_SETTLED
            if payment.amount != current.fee or payment.currency != current.currency:
                return RecordOutcome.AMOUNT_MISMATCH
            updated = workflow.fee_paid(current, payment)
            if self._commit(current, updated, fee_payment_id=payment.payment_id):
                return RecordOutcome.RECORDED
        raise BackendUnavailableError("the request kept changing; try again")

    @guarded
    def expire_request(self, reference: str) -> DocumentRequest | None:
        """Move a request still awaiting payment to expired; None when it is not awaiting."""
        for _ in range(_DECIDE_TRIES):
            current = self.get_request(reference)
            if current is None:
                return None
            try:
                updated = workflow.expired(current, self._clock())
            except IllegalTransitionError:
                return None
            if self._commit(current, updated):
                return updated
        raise BackendUnavailableError("the request kept changing; try again")

    @guarded
    def owed_alerts(self, before: datetime, limit: int) -> list[tuple[str, int]]:
        """Return (reference, entry number from 1) of alerts still owed, entries older first."""
        query = (
            sa.select(request_history.c.reference, request_history.c.seq)
            .where(request_history.c.announce == sa.true(), request_history.c.at < before)
            .order_by(request_history.c.at)
            .limit(max(0, limit))
        )
        with self._engine.connect() as conn:
            return [(row.reference, row.seq + 1) for row in conn.execute(query)]

    @guarded
    def alert_sent(self, reference: str, seq: int) -> None:
        """Clear the owed mark of entry `seq` (from 1): its SMS was accepted or needs none."""
        with self._engine.begin() as conn:
            conn.execute(
                request_history.update()
                .where(
                    request_history.c.reference == reference,
                    request_history.c.seq == seq - 1,
                    request_history.c.announce.is_not(None),
                )
                .values(announce=None)
            )

    def _commit(
        self,
        current: DocumentRequest,
        updated: DocumentRequest,
        *,
        announce: bool = False,
        **extra: Any,
    ) -> bool:
        """Write `updated` and its new history entry if nobody changed `current` since."""
        seen = len(current.history)
        with self._engine.begin() as conn:
            moved = conn.execute(
                requests.update()
                .where(requests.c.reference == current.reference, requests.c.version == seen)
                .values({**REQUESTS.values(updated, *_DECIDED), "version": seen + 1, **extra})
            )
            if moved.rowcount != 1:
                return False
            conn.execute(
                request_history.insert().values(
                    history_values(current.reference, seen, updated.history[-1], announce=announce)
                )
            )
            return True
