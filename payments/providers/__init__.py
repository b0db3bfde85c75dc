"""Mobile-money provider adapters behind one port (payments.providers.base.Provider)."""

from payments.providers.base import (
    CallbackEvent,
    CallbackParseError,
    PaymentState,
    Provider,
    PushOutcome,
    PushResult,
    StatusResult,
)

__all__ = [
    "CallbackEvent",
    "CallbackParseError",
    "PaymentState",
    "Provider",
    "PushOutcome",
    "PushResult",
    "StatusResult",
]
