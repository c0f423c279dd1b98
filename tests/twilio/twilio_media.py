"""Twilio's Recording resource as an ``httpx.MockTransport``: the media (``GET .../Recordings/{Sid}.wav``)
and its deletion (``DELETE .../Recordings/{Sid}.json``, checked against Twilio's OpenAPI description,
204 as it describes). Every request must carry the account's Basic credentials. Failures are
queued with :meth:`TwilioMedia.fail_next` (a status, or an exception such as a timeout)."""

from __future__ import annotations

import base64
import io
import wave
from collections import deque
from dataclasses import dataclass, field

import httpx
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from ivr.channels.twilio.rest import TWILIO_API


def wav(seconds: float, rate: int = 8000) -> bytes:
    """A mono 16-bit PCM WAV file of silence, as Twilio's recordings are."""
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()


def mp3(seconds: float, *, tag: bool = False) -> bytes:
    """A constant-bit-rate MP3 as far as its length goes: MPEG-2 layer III frame headers (32 kbit/s,
    16 kHz, mono) filling ``seconds`` at that rate, after an ID3v2 tag when ``tag``."""
    frame = b"\xff\xf3\x48\xc4" + bytes(140)  # 144 bytes: 32 kbit/s x 576 samples / 16 kHz / 8
    audio = frame * round(seconds * 32000 / 8 / len(frame))
    id3 = b"ID3\x04\x00\x00" + bytes([0, 0, 0, 20]) + bytes(20) if tag else b""
    return id3 + audio


@dataclass
class TwilioMedia:
    api: OpenAPI
    account: str
    token: str
    base_url: str = TWILIO_API
    files: dict[str, bytes] = field(default_factory=dict)  # RecordingSid -> media at Twilio
    sent: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    failures: deque[int | Exception | None] = field(default_factory=deque)

    def fail_next(self, *failures: int | Exception | None) -> None:
        """The next requests fail so (None: that one is answered as usual)."""
        self.failures.extend(failures)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        assert url.startswith(self.base_url + "/"), f"request to {url}, expected one under {self.base_url}"
        expected = "Basic " + base64.b64encode(f"{self.account}:{self.token}".encode()).decode()
        assert request.headers.get("Authorization") == expected, "not the account's credentials"
        path = "/" + url[len(self.base_url + "/"):].split("?")[0]  # as under api.twilio.com
        self.sent.append((request.method, path))
        failure = self.failures.popleft() if self.failures else None
        if isinstance(failure, Exception):
            raise failure
        if failure is not None:
            return httpx.Response(failure, json={"code": 20500, "message": "Internal Server Error",
                                                 "more_info": "https://www.twilio.com/docs/errors/20500",
                                                 "status": failure})
        prefix = f"/2010-04-01/Accounts/{self.account}/Recordings/"
        assert path.startswith(prefix), f"not a Recording of the account: {path}"
        name = path[len(prefix):]
        sid = name.rsplit(".", 1)[0]
        if request.method == "GET" and name.endswith(".wav"):
            if sid not in self.files:
                return httpx.Response(404, json={"code": 20404, "message": "not found", "status": 404})
            return httpx.Response(200, content=self.files[sid], headers={"Content-Type": "audio/x-wav"})
        if request.method == "DELETE" and name.endswith(".json"):
            return self._delete(request, sid)
        raise AssertionError(f"the stand-in does not answer {request.method} {path}")

    def _delete(self, request: httpx.Request, sid: str) -> httpx.Response:
        prepared = requests.Request("DELETE", TWILIO_API + "/" + str(request.url)[len(self.base_url + "/"):],
                                    headers={"Authorization": request.headers["Authorization"]}).prepare()
        self.api.validate_request(RequestsOpenAPIRequest(prepared))
        if self.files.pop(sid, None) is None:
            return httpx.Response(404, json={"code": 20404, "message": "not found", "status": 404})
        answer = requests.Response()
        answer.status_code, answer._content = 204, b""
        self.api.validate_response(RequestsOpenAPIRequest(prepared), RequestsOpenAPIResponse(answer))
        return httpx.Response(204)
