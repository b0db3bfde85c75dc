"""The payments database: one store per concern over one engine.

Intents (payments.intent_store), provider checks (poll_store), raw callbacks (callback_store),
reviews (review_store) and receipts (receipt_store) share one engine and the tables of
payments.tables; a caller takes the piece it needs. The engine is given: the composition root
builds it (gateway.container) and creates the tables (gateway.schema), so payments never names
a SQL adapter of civic's.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import Engine, select

from payments.callback_store import CallbackStore
from payments.intent_store import IntentStore
from payments.poll_store import PollStore
from payments.receipt_store import ReceiptStore
from payments.review_store import ReviewStore

SQL_TIMEOUT_SECONDS: Final = 5.0  # the payments engine's statement and pool timeouts


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
