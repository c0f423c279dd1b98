"""A stand-in for Twilio's REST API that checks every request against Twilio's OpenAPI description.

:class:`FakeTwilio` is a ``twilio.http.HttpClient``: twilio-python builds its requests as usual and
hands them here instead of to the network. Each request is validated with openapi-core against
``twilio_api_v2010.json`` (path, Basic auth, form fields, enums, types); a request that does not
validate raises, which fails the test. Errors are injected with :meth:`FakeTwilio.fail_next` and
answered with Twilio's error body. It also answers what the channel's preflight asks: the account
(``account_status``), its phone numbers (``numbers``) and its verified caller IDs (``verified``).
Participants added to a conference (addressed by its SID or, as Twilio allows on creation, its
friendly name) get a call of their own; a conference named for the first time gets its SID.
"""

from __future__ import annotations

import json
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from twilio.http import HttpClient
from twilio.http.response import Response

from ivr.channels.twilio.rest import TWILIO_API
from survey.clock import Clock

CALLS = "/2010-04-01/Accounts/{account}/Calls.json"


@dataclass(frozen=True)
class Sent:
    at: datetime
    method: str
    url: str
    form: dict[str, list[str]]

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def one(self, name: str) -> str:
        (value,) = self.form[name]
        return value


@dataclass(frozen=True)
class Failure:
    status: int
    code: int | None
    message: str
    problem: bool = False  # an RFC 9457 problem document, as newer Twilio services answer


class FakeTwilio(HttpClient):  # type: ignore[misc]
    def __init__(self, api: OpenAPI, clock: Clock, base_url: str = TWILIO_API) -> None:
        super().__init__(None, False)
        self.api = api
        self.clock = clock
        self.base_url = base_url
        self.sent: list[Sent] = []
        self._failures: deque[Failure | Exception | None] = deque()  # None: answer as usual
        self.account_status = "active"
        self.numbers: set[str] = set()  # the account's incoming phone numbers
        self.verified: set[str] = set()  # its verified outgoing caller IDs
        self.conferences: dict[str, str] = {}  # friendly name -> ConferenceSid

    def fail_next(self, status: int, code: int | None, message: str, times: int = 1, *, problem: bool = False) -> None:
        self._failures.extend([Failure(status, code, message, problem)] * times)

    def pass_next(self, times: int = 1) -> None:
        """The next requests are answered as usual (failures queued after them come later)."""
        self._failures.extend([None] * times)

    def break_next(self, error: Exception) -> None:
        """The next request never gets an answer (a network error)."""
        self._failures.append(error)

    def calls_created(self) -> list[Sent]:
        return [s for s in self.sent if s.path.endswith("/Calls.json")]

    def participants_added(self) -> list[Sent]:
        return [s for s in self.sent if s.path.endswith("/Participants.json") and s.method == "POST"]

    def calls_updated(self) -> list[Sent]:
        return [s for s in self.sent if "/Calls/" in s.path and s.method == "POST"]

    def request(self, method: str, uri: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        assert uri.startswith(self.base_url + "/"), f"request to {uri}, expected one under {self.base_url}"
        twilio_uri = TWILIO_API + uri[len(self.base_url):]
        prepared = requests.Request(method, twilio_uri, params=params, data=data,  # type: ignore[arg-type]
                                    headers=headers, auth=auth).prepare()
        self.api.validate_request(RequestsOpenAPIRequest(prepared))
        raw = prepared.body or ""
        body = raw.decode() if isinstance(raw, bytes) else str(raw)
        self.sent.append(Sent(self.clock.now(), method, twilio_uri, parse_qs(body)))
        failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            if isinstance(failure, Exception):
                raise failure
            return _error(failure)
        form = parse_qs(body) if method == "POST" else {k: [str(v)] for k, v in (params or {}).items()}
        status, answer = self._answer(method, urlsplit(twilio_uri).path, form)
        self._check_answer(prepared, status, answer)
        return Response(status, json.dumps(answer))

    def _answer(self, method: str, path: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        account = path.split("/")[3].removesuffix(".json")
        if method == "POST" and path.endswith("/Calls.json"):
            sid = "CA" + secrets.token_hex(16)
            return 201, _call(account, sid, form["To"][0], form["From"][0], "queued")
        if method == "POST" and "/Calls/" in path:  # a new status, or new TwiML for a live call
            sid = path.rsplit("/", 1)[1].removesuffix(".json")
            return 200, _call(account, sid, "", "", form["Status"][0] if "Status" in form else "in-progress")
        if method == "POST" and path.endswith("/Participants.json"):
            return 201, self._participant(account, path.split("/")[5], form)
        if method == "GET":
            return 200, self._fetch(account, path, form)
        raise AssertionError(f"the fake does not answer {method} {path}")

    def _participant(self, account: str, conference: str, form: dict[str, list[str]]) -> dict[str, Any]:
        if not conference.startswith("CF"):
            conference = self.conferences.setdefault(conference, "CF" + secrets.token_hex(16))
        sid = "CA" + secrets.token_hex(16)

        def flag(name: str, default: bool) -> bool:
            return form[name][0] == "true" if name in form else default

        return {"account_sid": account, "call_sid": sid, "conference_sid": conference, "status": "queued",
                "muted": flag("Muted", False), "hold": False, "coaching": flag("Coaching", False),
                "start_conference_on_enter": flag("StartConferenceOnEnter", True),
                "end_conference_on_exit": flag("EndConferenceOnExit", False),
                "uri": f"/2010-04-01/Accounts/{account}/Conferences/{conference}/Participants/{sid}.json"}

    def _fetch(self, account: str, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        if path == f"/2010-04-01/Accounts/{account}.json":
            return {"sid": account, "status": self.account_status, "friendly_name": "Minyi test",
                    "uri": f"/2010-04-01/Accounts/{account}.json"}
        wanted = set(query.get("PhoneNumber", []))
        for key, numbers in (("incoming_phone_numbers", self.numbers), ("outgoing_caller_ids", self.verified)):
            listed = path.rsplit("/", 1)[1].removesuffix(".json")
            if key.replace("_", "") == listed.lower():
                return {key: [{"account_sid": account, "phone_number": n} for n in sorted(numbers)
                              if not wanted or n in wanted], "page": 0, "page_size": 50, "start": 0, "end": 0,
                        "first_page_uri": path, "uri": path, "next_page_uri": None, "previous_page_uri": None}
        raise AssertionError(f"the fake does not answer GET {path}")

    def _check_answer(self, prepared: requests.PreparedRequest, status: int, answer: dict[str, Any]) -> None:
        """The fake's own successful answers match the description too (errors are not described)."""
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(answer).encode()
        response.headers["Content-Type"] = "application/json"
        self.api.validate_response(RequestsOpenAPIRequest(prepared), RequestsOpenAPIResponse(response))


def _error(failure: Failure) -> Response:
    more_info = f"https://www.twilio.com/docs/errors/{failure.code}"
    if failure.problem:
        body: dict[str, Any] = {"type": more_info, "title": "Bad request", "status": failure.status,
                                "code": failure.code, "detail": failure.message}
    else:
        body = {"code": failure.code, "message": failure.message, "more_info": more_info, "status": failure.status}
    return Response(failure.status, json.dumps(body))


def _call(account: str, sid: str, to: str, from_: str, status: str) -> dict[str, Any]:
    return {"sid": sid, "account_sid": account, "to": to, "from": from_, "status": status,
            "api_version": "2010-04-01", "direction": "outbound-api",
            "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json"}
