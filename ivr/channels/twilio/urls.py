"""The webhook URLs Twilio calls back, shared by the channel (which hands them to Twilio) and the
Flask blueprint (which serves them).

Only ids travel in a URL, never text: Twilio signs the URL it requested, and Werkzeug decodes
percent-encoded non-ASCII query strings, so anything but ASCII would break the signature check.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlencode, urlsplit

MOUNT = "/twilio"  # where the web app mounts the blueprint
START = "/voice/start"  # the call was answered: first TwiML of the interview
GATHER = "/voice/gather"  # a <Gather> finished (keys, or nothing on timeout)
RECORDED = "/voice/recorded"  # a <Record> finished (or recorded nothing)
RECORDING = "/voice/recording"  # recordingStatusCallback: a recording file is ready
STATUS = "/voice/status"  # call progress: initiated, ringing, answered, completed
AMD = "/voice/amd"  # asynchronous answering-machine detection verdict
DIALED = "/voice/dialed"  # a <Dial> to the operator ended (answered or not)
PROMPTS = "/prompts"  # recorded prompt audio for <Play> (see ivr.channels.twilio.audio)


class WebhookUrls:
    """Absolute webhook URLs under the public base URL (``MINYI_PUBLIC_URL``)."""

    def __init__(self, public_url: str) -> None:
        self.base = public_base(public_url)

    def _url(self, path: str, **query: int) -> str:
        return f"{self.base}{MOUNT}{path}?{urlencode(query)}"

    def start(self, attempt_id: int) -> str:
        return self._url(START, attempt=attempt_id)

    def gather(self, attempt_id: int, seq: int) -> str:
        return self._url(GATHER, attempt=attempt_id, seq=seq)

    def recorded(self, attempt_id: int, seq: int) -> str:
        return self._url(RECORDED, attempt=attempt_id, seq=seq)

    def recording(self, attempt_id: int, *, whole_call: bool = False) -> str:
        """recordingStatusCallback of an open answer's ``<Record>``, or of the whole call."""
        return self._url(RECORDING, attempt=attempt_id, whole_call=1) if whole_call else self._url(
            RECORDING, attempt=attempt_id)

    def status(self, attempt_id: int) -> str:
        return self._url(STATUS, attempt=attempt_id)

    def amd(self, attempt_id: int) -> str:
        return self._url(AMD, attempt=attempt_id)

    def dialed(self, attempt_id: int, seq: int) -> str:
        return self._url(DIALED, attempt=attempt_id, seq=seq)


@lru_cache(maxsize=8)  # every signed request's URL starts with it
def public_base(public_url: str) -> str:
    """``public_url`` without a trailing slash, after checking it can carry signed webhooks."""
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"MINYI_PUBLIC_URL must be an absolute http(s) URL, not {public_url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"MINYI_PUBLIC_URL must not carry a query or fragment: {public_url!r}")
    if not public_url.isascii():
        raise ValueError(f"MINYI_PUBLIC_URL must be ASCII (use the punycode host name): {public_url!r}")
    return public_url.rstrip("/")


def signed_url(public_url: str, path: str, raw_query: bytes) -> str:
    """The URL Twilio signed for a request that reached ``path`` with ``raw_query``: the public
    base (scheme and host as Twilio sees them, whatever a TLS proxy passed on) plus the path and
    the query string exactly as received."""
    query = raw_query.decode("latin-1")
    return public_base(public_url) + path + (f"?{query}" if query else "")
