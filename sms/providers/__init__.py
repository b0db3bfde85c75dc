"""SMS providers behind one small port: africastalking (the SDK) and console (dev)."""

from sms.providers.base import (
    Outcome,
    ProviderError,
    ProviderResult,
    RecipientResult,
    SmsProvider,
    classify,
)

__all__ = [
    "Outcome",
    "ProviderError",
    "ProviderResult",
    "RecipientResult",
    "SmsProvider",
    "classify",
]
