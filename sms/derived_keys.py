"""The keys the SMS side derives from OTP_KEY, and the sealer of the message log's numbers.

The message log keeps the full number of a message while it is queued (it may have to queue
it again after Redis came back empty), sealed with the gateway's one cipher
(runtime.sealing, keys PERSONAL_DATA_KEYS) and erased once the message left the queue.
Before that cipher it sealed them with a Fernet key derived from OTP_KEY: that key stays
as a retired, open-only key, so a message queued before an upgrade is still sent, and
`python -m gateway personal-data rotate` re-seals it under PERSONAL_DATA_KEYS.

Preferences are keyed by a keyed hash of the number, never the number; that key derives
from OTP_KEY and must not change: sms_preferences rows and their Redis cache are stored
under it, and a new key would lose every STOP (docs/contracts.md, "Keyed hashes").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Final

from runtime.masking import phone_ref
from runtime.sealing import Sealer

DEV_SECRET: Final = b"guichet-development"  # development only: production requires OTP_KEY
PREFERENCE_REF_CHARS: Final = 32


def _derive(otp_key: str, purpose: bytes) -> bytes:
    return hmac.new(otp_key.encode() or DEV_SECRET, purpose, hashlib.sha256).digest()


def preference_ref(otp_key: str) -> Callable[[str], str]:
    """Return the function giving a phone's key in sms_preferences (stable for one OTP_KEY)."""
    key = _derive(otp_key, b"sms-preferences-ref")
    return lambda phone: phone_ref(phone, key, chars=PREFERENCE_REF_CHARS)


def retired_log_key(otp_key: str) -> bytes:
    """Return the Fernet key the message log sealed numbers with before PERSONAL_DATA_KEYS."""
    return base64.urlsafe_b64encode(_derive(otp_key, b"sms-message-log-seal"))


def message_sealer(personal_data_keys: str, otp_key: str) -> Sealer:
    """Return the gateway's cipher, also opening numbers sealed by the retired log key."""
    return Sealer.from_setting(personal_data_keys, retired=[retired_log_key(otp_key)])
