"""HTTP for the reliability tests: a staff member's browser (cookies and the CSRF token of the last
page) and Twilio's webhook deliveries, both to a server in another process, and a loopback Twilio
REST API."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import requests
from web_support import CSRF


class Browser:
    """A logged-in staff member's browser over real HTTP. Redirects are not followed, so a form's
    answer (302 on success) can be checked."""

    def __init__(self, base: str) -> None:
        self.base, self.http, self.token = base, requests.Session(), ""

    def get(self, path: str) -> requests.Response:
        response = self.http.get(self.base + path, timeout=30)
        found = CSRF.search(response.text) if response.headers.get("Content-Type", "").startswith("text/html") else None
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str] | None = None) -> requests.Response:
        if not self.token:
            self.get("/login")
        return self.http.post(self.base + path, data={**(data or {}), "csrf_token": self.token},
                              allow_redirects=False, timeout=30)

    def login(self, username: str, password: str) -> None:
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        assert response.status_code == 302, f"login as {username}: {response.status_code}"
        self.get("/")  # a new session after login: its CSRF token


@dataclass
class HttpResponse:
    """What ``twilio_caller.Call`` reads of a Flask test response, from a real one."""

    response: requests.Response

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def data(self) -> bytes:
        return self.response.content

    @property
    def mimetype(self) -> str:
        return self.response.headers.get("Content-Type", "").split(";")[0].strip()

    def get_data(self, as_text: bool = False) -> str | bytes:
        return self.response.text if as_text else self.response.content


@dataclass
class HttpTransport:
    """Stands in for the Flask test client under ``twilio_caller.Call``: the same signed posts,
    sent to a server (as from behind the TLS proxy that ``MINYI_PUBLIC_URL`` names)."""

    base: str

    def post(self, path: str, data: dict[str, str], headers: dict[str, str]) -> HttpResponse:
        return HttpResponse(requests.post(self.base + path, data=data, headers=headers, timeout=30))


class TwilioOverHttp:
    """A loopback HTTP server in front of ``tests/twilio``'s FakeTwilio, so that the channel's real
    transport (twilio-python's TwilioHttpClient, requests, urllib3, with their logging) is used."""

    def __init__(self, make_fake: Callable[[str], Any]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.fake = make_fake(self.base_url)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TwilioOverHttp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                user, _, password = base64.b64decode(self.headers["Authorization"].split()[1]).decode().partition(":")
                answer = outer.fake.request("POST", outer.base_url + self.path, data=parse_qs(body),
                                            auth=(user, password))
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer.text.encode())

            def log_message(self, *args: object) -> None:  # the test reads the logs: keep the server's out
                pass

        return Handler
