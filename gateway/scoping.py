"""Which office handles a request, and the requests a restricted reader may see.

The catalogue says where each document is handled as a text per language (a document type's
`office`); the office whose name equals that text in some language is the request's office
(demo city: `birth` -> townhall, `criminal_record` -> prosecutor). A document whose text names
no office has none: only readers who see every office (supervisors, unrestricted API keys)
see its requests. The console's agents and API keys listed in API_KEY_OFFICES are restricted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Final

from civic.ports import Backend, DocumentRequest, DocumentType, Office, RequestStatus

SCAN_BATCH: Final = 200  # requests read per back-office call while filtering
SCAN_LIMIT: Final = 5000  # the newest requests a filtered listing looks through at most


def office_of(document: DocumentType | None, offices: Iterable[Office]) -> str | None:
    """Return the id of the office handling `document`'s requests, or None."""
    if document is None:
        return None
    said = {text.strip().casefold() for text in document.office.values()}
    for office in offices:
        if said & {name.strip().casefold() for name in office.names.values()}:
            return office.id
    return None


def offices_by_document(backend: Backend) -> dict[str, str | None]:
    """Return document code -> handling office id, from the catalogue."""
    offices = backend.list_offices()
    return {d.code: office_of(d, offices) for d in backend.list_document_types()}


def may_see(
    item: DocumentRequest, allowed: frozenset[str] | None, by_document: Mapping[str, str | None]
) -> bool:
    """Tell whether a reader restricted to `allowed` offices (None: all) may see `item`."""
    if allowed is None:
        return True
    office = by_document.get(item.document_code)
    return office is not None and office in allowed


def scan(
    backend: Backend,
    *,
    status: RequestStatus | None,
    keep: Callable[[DocumentRequest], bool],
    limit: int,
    offset: int = 0,
    created_before: datetime | None = None,
) -> list[DocumentRequest]:
    """Return `limit` requests `keep` accepts after skipping `offset` of them, newest first.

    The back office filters by status only; the rest is filtered here, over at most the
    SCAN_LIMIT newest requests (older ones are reached by their reference).
    """
    found: list[DocumentRequest] = []
    skipped = 0
    read = 0
    while read < SCAN_LIMIT and len(found) < limit:
        batch = backend.list_requests(
            status=status, limit=SCAN_BATCH, offset=read, created_before=created_before
        )
        read += len(batch)
        for item in batch:
            if not keep(item):
                continue
            if skipped < offset:
                skipped += 1
            elif len(found) < limit:
                found.append(item)
        if len(batch) < SCAN_BATCH:
            break
    return found
