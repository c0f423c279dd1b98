"""The twilio-python REST client, pointed at Twilio or at a Twilio-compatible provider.

twilio-python hard-codes ``https://api.twilio.com`` in its generated domain classes; its one
supported extension point is the ``http_client`` every request goes through. :class:`RebasedHttpClient`
wraps another client and rewrites that base to ``TWILIO_API_BASE_URL``, leaving the path, the
form and the Basic auth exactly as twilio-python built them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from survey.config import Settings

TWILIO_API = "https://api.twilio.com"


class RebasedHttpClient(HttpClient):  # type: ignore[misc]
    """Sends twilio-python's ``api.twilio.com`` requests to ``base_url`` through ``inner``."""

    def __init__(self, base_url: str, inner: HttpClient) -> None:
        super().__init__(inner.logger, False, inner.timeout)
        self.base_url = api_base(base_url)
        self.inner = inner

    def request(self, method: str, uri: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        if uri.startswith(TWILIO_API + "/"):
            uri = self.base_url + uri[len(TWILIO_API):]
        return self.inner.request(method, uri, params=params, data=data, headers=headers, auth=auth,
                                  timeout=timeout, allow_redirects=allow_redirects)


def api_base(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"TWILIO_API_BASE_URL must be an http(s) base URL such as {TWILIO_API}, not {url!r}")
    return url.rstrip("/")


def make_client(settings: Settings, http_client: HttpClient | None = None, timeout_s: float = 15.0) -> Client:
    """A REST client for the configured account; ``http_client`` replaces the network (tests)."""
    if not settings.twilio_account_sid or not settings.twilio_auth_token:
        raise ValueError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set to use the Twilio channel")
    transport = http_client or TwilioHttpClient(timeout=timeout_s)
    if api_base(settings.twilio_api_base_url) != TWILIO_API:
        transport = RebasedHttpClient(settings.twilio_api_base_url, transport)
    return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=transport)


def hang_up(client: Client, call_sid: str) -> None:
    """End a live call (e.g. one an answering machine picked up)."""
    client.calls(call_sid).update(status="completed")
