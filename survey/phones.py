"""Phone numbers as personal data: normalise, encrypt at rest, hash for look-ups, mask for display.

Numbers are encrypted with keys of their own (:class:`PhoneKeys`, from ``MINYI_PHONE_KEY`` or
``MINYI_PHONE_KEY_FILE``; docs/keys.md), never with the session key, so a database copy without
the phone keys holds no readable number. Databases made before phone keys existed had both keys
derived from ``MINYI_SECRET_KEY`` (:meth:`PhoneKeys.derived`); ``minyi keys generate --next``
carries those keys into a key file and ``minyi keys rotate`` moves every number to a new one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from survey.config import Settings
from survey.errors import Refused


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


_ERROR_TYPE = re.compile(r"^\(\d+\) ")  # phonenumbers' text starts with its error type's number: "(1) ..."


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
        raise PhoneError(f"not a phone number ({_ERROR_TYPE.sub('', str(exc))})") from None
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


def redact(value: str) -> str:
    """A value that may be a phone number (7 or more digits), with its middle hidden: a bad row's
    value as a page shows it."""
    digits = sum(ch.isdigit() for ch in value)
    if digits < 7:
        return value
    return value[:3] + "*" * max(len(value) - 5, 1) + value[-2:]


class PhoneKeyError(Refused):
    """Phone keys that are missing, unreadable or malformed; the message says where."""


_HASH_PREFIX = "hash:"
_ENTRY_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class PhoneKeys:
    """The keys of stored numbers: Fernet keys, the first encrypting and every one decrypting
    (older keys stay until ``minyi keys rotate`` has moved every number to the first), and the
    HMAC key of ``number_hash``, which de-duplicates numbers and matches the do-not-call list
    across surveys and so is meant to outlive many encryption keys."""

    encryption: tuple[bytes, ...]
    hashing: bytes

    @classmethod
    def derived(cls, secret: str) -> PhoneKeys:
        """Both keys derived from one secret: how numbers were stored before phone keys of their
        own (``MINYI_SECRET_KEY``), and still the keys when none are configured."""
        fernet = base64.urlsafe_b64encode(hashlib.sha256(("minyi-phone-fernet:" + secret).encode()).digest())
        return cls((fernet,), hashlib.sha256(("minyi-phone-hmac:" + secret).encode()).digest())

    @classmethod
    def generate(cls) -> PhoneKeys:
        return cls((Fernet.generate_key(),), secrets.token_bytes(32))

    @classmethod
    def parse(cls, text: str, source: str) -> PhoneKeys:
        """Keys from the text of ``source`` (named in errors, never a key): entries separated by
        commas, blanks or lines, ``#`` starting a comment; Fernet keys newest first and one
        ``hash:<key>`` entry."""
        entries = [e for line in text.splitlines() for e in _ENTRY_SEPARATORS.split(line.split("#", 1)[0]) if e]
        hashes = [e[len(_HASH_PREFIX):] for e in entries if e.startswith(_HASH_PREFIX)]
        fernets = tuple(e.encode() for e in entries if not e.startswith(_HASH_PREFIX))
        if len(hashes) != 1 or not fernets:
            raise PhoneKeyError("%(source)s: expected one or more encryption keys and exactly one hash: key, "
                                "found %(fernets)s and %(hashes)s (docs/keys.md)",
                                source=source, fernets=len(fernets), hashes=len(hashes))
        for number, key in enumerate(fernets, 1):
            try:
                Fernet(key)
            except ValueError:
                raise PhoneKeyError("%(source)s: encryption key %(number)s is not a Fernet key (32 bytes in "
                                    "url-safe base64, as `minyi keys generate` prints)",
                                    source=source, number=number) from None
        return cls(fernets, _hash_key(hashes[0], source))

    def dump(self) -> str:
        """The text of a key file holding these keys (:meth:`parse` reads it back)."""
        lines = ["# Minyi phone keys (docs/keys.md). The first key encrypts; every key decrypts.",
                 *(key.decode() for key in self.encryption),
                 "# The key of number_hash (de-duplication, do-not-call): change it only with care.",
                 _HASH_PREFIX + base64.urlsafe_b64encode(self.hashing).decode()]
        return "\n".join(lines) + "\n"

    def fingerprint(self) -> str:
        """Names the current encryption key in audit rows and messages without revealing it."""
        return hashlib.sha256(self.encryption[0]).hexdigest()[:12]


def _hash_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.encode())
    except (binascii.Error, ValueError):
        key = b""
    if len(key) < 32:
        raise PhoneKeyError("%(source)s: the hash: key must be at least 32 bytes in url-safe base64",
                            source=source)
    return key


def configured_keys(settings: Settings) -> PhoneKeys:
    """The phone keys the settings name: ``MINYI_PHONE_KEY``, or the file ``MINYI_PHONE_KEY_FILE``,
    or (neither set) the keys derived from ``MINYI_SECRET_KEY`` as before phone keys existed."""
    if settings.phone_key and settings.phone_key_file:
        raise PhoneKeyError("set MINYI_PHONE_KEY or MINYI_PHONE_KEY_FILE, not both")
    if settings.phone_key:
        return PhoneKeys.parse(settings.phone_key, "MINYI_PHONE_KEY")
    if not settings.phone_key_file:
        return PhoneKeys.derived(settings.secret_key)
    try:
        text = Path(settings.phone_key_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PhoneKeyError("cannot read MINYI_PHONE_KEY_FILE %(path)s: %(why)s", path=settings.phone_key_file,
                            why=getattr(exc, "strerror", None) or exc) from None
    return PhoneKeys.parse(text, settings.phone_key_file)


class PhoneVault:
    """Encrypts, decrypts and hashes numbers with one set of :class:`PhoneKeys` (a plain string:
    keys derived from it, as :meth:`PhoneKeys.derived`)."""

    def __init__(self, keys: PhoneKeys | str) -> None:
        self.keys = PhoneKeys.derived(keys) if isinstance(keys, str) else keys
        self._current = Fernet(self.keys.encryption[0])
        self._fernet = MultiFernet([Fernet(key) for key in self.keys.encryption])
        self._hmac_key = self.keys.hashing

    def encrypt(self, e164: str) -> bytes:
        return self._current.encrypt(e164.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise PhoneError("cannot decrypt: none of the phone keys is the one used to store it") from None

    def seal(self, data: bytes) -> bytes:
        """A file with numbers in it (an uploaded frame, its rejected rows), encrypted as a number is."""
        return self._current.encrypt(data)

    def unseal(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(bytes(token))
        except InvalidToken:
            raise PhoneError("cannot decrypt: none of the phone keys is the one used to store it") from None

    def is_current(self, token: bytes) -> bool:
        """Whether ``token`` is encrypted with the current (first) key."""
        try:
            self._current.decrypt(bytes(token))
        except InvalidToken:
            return False
        return True

    def hash(self, e164: str) -> str:
        return hmac.new(self._hmac_key, e164.encode(), hashlib.sha256).hexdigest()

    def contact_row(self, e164: str, line_type: str, number_hash: str | None = None) -> dict[str, Any]:
        """The columns of a ``contacts`` row for a number: the only form a number is stored in
        (encrypted, a keyed hash for look-ups, a mask for display). ``number_hash`` when the
        caller has it already."""
        return {"number_enc": self.encrypt(e164), "number_hash": number_hash or self.hash(e164),
                "number_masked": mask(e164), "line_type": line_type}


def configured_vault(settings: Settings) -> PhoneVault:
    return PhoneVault(configured_keys(settings))
