"""The ``X-Twilio-Signature`` check, with one HMAC for a genuine request.

Twilio signs the URL it requested, sometimes with the default port written out (``:443``) and
sometimes without. ``RequestValidator.validate`` therefore computes the HMAC of both forms on
every request; here the URL as received is tried first and the other form only when that fails,
so a request Twilio signed as received costs one HMAC, and the other form is still accepted.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import urlparse

from twilio.request_validator import RequestValidator, add_port, remove_port


def signed_by_twilio(validator: RequestValidator, url: str, form: Mapping[str, str], signature: str) -> bool:
    """Whether ``signature`` is the account's signature of ``url`` (or of its other port form)
    and ``form``."""
    if _same(validator.compute_signature(url, form), signature):
        return True
    parsed = urlparse(url)
    other = remove_port(parsed) if parsed.port else add_port(parsed)
    return _same(validator.compute_signature(other, form), signature)


def _same(computed: str, signature: str) -> bool:
    """A comparison in constant time (the header may hold anything, so bytes, not text)."""
    return hmac.compare_digest(computed.encode(), signature.encode("utf-8", "replace"))
