"""Phone numbers as personal data: normalise, encrypt at rest, hash for look-ups, mask for display.

The Fernet key and the HMAC key are both derived from the configured secret, so a database copy
without the secret holds no readable number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from enum import StrEnum
from typing import Any

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken


class PhoneProblem(StrEnum):
    """Why a number is refused (sample imports count rejected rows by these)."""

    EMPTY = "empty number"
    INVALID = "not a valid number"
    EMERGENCY = "emergency number"
    SERVICE = "special-service number"
    FOREIGN = "foreign number"


class PhoneError(ValueError):
    """A number that cannot be dialled, with the reason."""

    def __init__(self, message: str, problem: PhoneProblem = PhoneProblem.INVALID) -> None:
        super().__init__(message)
        self.problem = problem


_T = phonenumbers.PhoneNumberType
_SERVICE_TYPES = {_T.TOLL_FREE: "toll-free, e.g. 800", _T.SHARED_COST: "shared-cost, e.g. 400",
                  _T.PREMIUM_RATE: "premium-rate", _T.UAN: "universal access", _T.VOICEMAIL: "voicemail access"}
# 95xxx(x) national and 96xxx(x) local service lines (banks, utilities, hotlines); phonenumbers'
# short-number data knows only some of them.
_CN_SERVICE = re.compile(r"9[56]\d{3,6}")


def normalise(raw: str, region: str = "CN", *, allow_foreign: bool = False,
              allow_service: bool = False) -> tuple[str, str]:
    """E.164 form and line type (``mobile``, ``landline`` or ``unknown``) of ``raw``, a number in
    ``region`` unless it starts with +country code. Refused: numbers of another country unless
    ``allow_foreign``; special-service numbers (400/800, 95xxx/96xxx and other short numbers)
    unless ``allow_service``; emergency numbers always."""
    text = str(raw).strip()
    if not text:
        raise PhoneError("empty number", PhoneProblem.EMPTY)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"not a phone number ({exc})") from None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    kind = phonenumbers.number_type(parsed)  # UNKNOWN exactly when is_valid_number is false (one look-up, not two)
    if kind == _T.UNKNOWN:
        _refuse_short(parsed, allow_service)
        return e164, "unknown"
    if parsed.country_code != phonenumbers.country_code_for_region(region) and not allow_foreign:
        where = phonenumbers.region_code_for_number(parsed) or "unknown region"
        raise PhoneError(f"foreign number (+{parsed.country_code}, {where})", PhoneProblem.FOREIGN)
    if kind in _SERVICE_TYPES and not allow_service:
        raise PhoneError(f"special-service number ({_SERVICE_TYPES[kind]})", PhoneProblem.SERVICE)
    return e164, {_T.MOBILE: "mobile", _T.FIXED_LINE: "landline"}.get(kind, "unknown")


def _refuse_short(parsed: phonenumbers.PhoneNumber, allow_service: bool) -> None:
    """Refuse a number that is not a valid subscriber number, unless it is a short service
    number (95588, 12345, ...) and those are allowed. Emergency numbers are always refused."""
    national = phonenumbers.national_significant_number(parsed)
    region = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    if phonenumbers.is_emergency_number(national, region):
        raise PhoneError("emergency number", PhoneProblem.EMERGENCY)
    short = phonenumbers.is_valid_short_number(parsed) or (parsed.country_code == 86
                                                           and _CN_SERVICE.fullmatch(national) is not None)
    if not short:
        raise PhoneError("not a valid number for its region")
    if not allow_service:
        raise PhoneError("special-service number (short number)", PhoneProblem.SERVICE)


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
