"""Keep a phone number in the database without keeping it in clear.

The message log needs the full number of a message it may have to queue again after Redis
came back empty; it keeps it sealed (Fernet: AES-128-CBC + HMAC-SHA256, from the maintained
`cryptography` package rather than hand-rolled crypto) and erases it once the message left
the queue. Preferences are keyed by a keyed hash of the number, never the number. Both keys
derive from one deployment secret (OTP_KEY, required in production), so every web and worker
process of an installation reads what another wrote.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

from cryptography.fernet import Fernet, InvalidToken

DEV_SECRET: Final = b"guichet-development"  # development only: production requires OTP_KEY


class PhoneSeal:
    """Seal and unseal numbers; give the stable keyed ref of a number."""

    def __init__(self, secret: bytes) -> None:
        secret = secret or DEV_SECRET
        seal_key = hmac.new(secret, b"sms-message-log-seal", hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(seal_key))
        self._ref_key = hmac.new(secret, b"sms-preferences-ref", hashlib.sha256).digest()

    def seal(self, phone: str) -> str:
        """Return the number encrypted and authenticated."""
        return self._fernet.encrypt(phone.encode()).decode()

    def unseal(self, token: str) -> str | None:
        """Return the number, or None when the token was sealed with another key or altered."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None

    def ref(self, phone: str) -> str:
        """Return the keyed, non-reversible id of a number (the preferences' key)."""
        return hmac.new(self._ref_key, phone.encode(), hashlib.sha256).hexdigest()[:32]
