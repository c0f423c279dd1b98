"""Phone numbers as personal data: normalise, encrypt at rest, hash for look-ups, mask for display.

The Fernet key and the HMAC key are both derived from the configured secret, so a database copy
without the secret holds no readable number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken


class PhoneError(ValueError):
    """A number that cannot be dialled, with the reason."""


def normalise(raw: str, region: str = "CN") -> tuple[str, str]:
    """E.164 form and line type (``mobile``, ``landline`` or ``unknown``) of ``raw``."""
    text = str(raw).strip()
    if not text:
        raise PhoneError("empty number")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"not a phone number ({exc})") from None
    kind = phonenumbers.number_type(parsed)  # UNKNOWN exactly when is_valid_number is false (one look-up, not two)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        raise PhoneError("not a valid number for its region")
    line = {
        phonenumbers.PhoneNumberType.MOBILE: "mobile",
        phonenumbers.PhoneNumberType.FIXED_LINE: "landline",
    }.get(kind, "unknown")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), line


def mask(e164: str) -> str:
    """``+86138****5678``: enough for staff to tell numbers apart, not to dial them."""
    if len(e164) <= 8:
        return "*" * len(e164)
    return e164[:6] + "*" * (len(e164) - 10) + e164[-4:]


class PhoneVault:
    """Encrypts, decrypts and hashes numbers with keys derived from one secret."""

    def __init__(self, secret: str) -> None:
        digest = hashlib.sha256(("minyi-phone-fernet:" + secret).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._hmac_key = hashlib.sha256(("minyi-phone-hmac:" + secret).encode()).digest()

    def encrypt(self, e164: str) -> bytes:
        return self._fernet.encrypt(e164.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise PhoneError("cannot decrypt: the secret key differs from the one used to store it") from None

    def hash(self, e164: str) -> str:
        return hmac.new(self._hmac_key, e164.encode(), hashlib.sha256).hexdigest()

    def contact_row(self, e164: str, line_type: str, number_hash: str | None = None) -> dict[str, Any]:
        """The columns of a ``contacts`` row for a number: the only form a number is stored in
        (encrypted, a keyed hash for look-ups, a mask for display). ``number_hash`` when the
        caller has it already."""
        return {"number_enc": self.encrypt(e164), "number_hash": number_hash or self.hash(e164),
                "number_masked": mask(e164), "line_type": line_type}
