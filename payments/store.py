"""The payments database: its engine, its migration, and one store per concern over it.

Intents (payments.intent_store), provider checks (poll_store), raw callbacks (callback_store),
reviews (review_store) and receipts (receipt_store) share one engine and the tables of
payments.tables; a caller takes the piece it needs.
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from civic.sql import add_missing_columns, make_engine
from payments.callback_store import CallbackStore
from payments.intent_store import IntentStore
from payments.poll_store import PollStore
from payments.receipt_store import ReceiptStore
from payments.review_store import ReviewStore
from payments.tables import metadata


def build_engine(database_url: str, timeout: float = 5.0) -> Engine:
    """Return an engine on the back office's database (civic's timeouts and SQLite WAL)."""
    return make_engine(database_url, timeout=timeout)


def migrate(database_url: str) -> None:
    """Create the payments tables and indexes if missing (idempotent)."""
    engine = build_engine(database_url)
    try:
        metadata.create_all(engine, checkfirst=True)
        add_missing_columns(engine, metadata)
    finally:
        engine.dispose()


class PaymentStore:
    """Durable payment state: the stores of each concern on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.intents = IntentStore(engine)
        self.polls = PollStore(engine)
        self.callbacks = CallbackStore(engine)
        self.reviews = ReviewStore(engine)
        self.receipts = ReceiptStore(engine)

    def ping(self) -> None:
        """Raise SQLAlchemyError unless the payments database answers."""
        with self._engine.connect() as conn:
            conn.execute(select(1)).all()
