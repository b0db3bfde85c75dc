"""What payments needs to know from the process's settings (parsed once at start-up)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class PaymentSettings(Protocol):
    """The fields of gateway.config.Settings payments reads (structural: no import of gateway)."""

    @property
    def env(self) -> str: ...
    @property
    def database_url(self) -> str: ...
    @property
    def emulate_redis(self) -> bool: ...
    @property
    def receipt_key(self) -> str: ...
    @property
    def payment_operators(self) -> str: ...
    @property
    def payment_push_delay_seconds(self) -> float: ...
    @property
    def payment_intent_ttl_seconds(self) -> float: ...
    @property
    def request_payment_ttl(self) -> float: ...
    @property
    def payment_reconcile_after_seconds(self) -> float: ...
    @property
    def payment_reconcile_interval_seconds(self) -> float: ...
    @property
    def payment_callback_token(self) -> str: ...
    @property
    def public_base_url(self) -> str: ...
    @property
    def sandbox_callback_delay_seconds(self) -> float: ...
    @property
    def daraja_base_url(self) -> str: ...
    @property
    def daraja_consumer_key(self) -> str: ...
    @property
    def daraja_consumer_secret(self) -> str: ...
    @property
    def daraja_shortcode(self) -> str: ...
    @property
    def daraja_passkey(self) -> str: ...
    @property
    def daraja_timeout_seconds(self) -> float: ...


class PaymentConfigError(ValueError):
    """A payments setting cannot work; the process must not start."""


def parse_operators(spec: str) -> dict[str, str]:
    """Parse `mpesa:daraja,airtel:sandbox` into {operator: provider}, in order."""
    operators: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        operator, _, provider = part.partition(":")
        operator, provider = operator.strip(), provider.strip()
        if not operator or not provider:
            raise PaymentConfigError(f"PAYMENT_OPERATORS entry {part!r} is not operator:provider")
        if operator in operators:
            raise PaymentConfigError(f"PAYMENT_OPERATORS names {operator!r} twice")
        operators[operator] = provider
    if not operators:
        raise PaymentConfigError("PAYMENT_OPERATORS must name at least one operator")
    return operators


@dataclass(frozen=True, slots=True)
class PaymentsConfig:
    """Timings and names the payment service runs with."""

    operators: Mapping[str, str] = field(default_factory=lambda: {"mpesa": "sandbox"})
    push_delay_seconds: float = 5.0
    intent_ttl_seconds: float = 600.0
    reconcile_after_seconds: float = 60.0
    # A `pushing` intent untouched this long means its job died mid-push (> any HTTP timeout).
    stale_push_seconds: float = 60.0
    request_payment_ttl_seconds: float = 86400.0  # unpaid document requests expire after this
    timezone: str = "UTC"
    short_code: str = ""
