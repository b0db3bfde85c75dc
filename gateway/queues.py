"""Every rq queue the code enqueues on; the Procfile's worker must listen on all of them."""

from __future__ import annotations

from typing import Final


class QueueNames:
    """One constant per queue; a test parses the Procfile against `all()`."""

    SMS: Final = "sms"
    PAYMENTS: Final = "payments"
    DEFAULT: Final = "default"

    @classmethod
    def all(cls) -> list[str]:
        """Return every queue name, highest priority first."""
        return [cls.PAYMENTS, cls.SMS, cls.DEFAULT]
