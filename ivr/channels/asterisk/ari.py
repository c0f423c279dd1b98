"""The adapter: the only module that talks to Asterisk's REST Interface.

REST requests go through asyncari 0.20.6's Swagger client, built from the api-docs the server
itself serves, so an operation or a parameter that this Asterisk does not know fails here before
anything is sent. The event WebSocket is a thin reader of our own on ``websockets``: asyncari's
reader does not suit a long-running service (docs/asterisk.md) - it ends silently on a clean
close, never pings (a half-open connection goes unnoticed), ends the client when a consumer is
1.5 s late, and after a reconnect its object cache asserts on the first event of a call still in
progress. asyncari's ``Client.new_channel()`` is broken; we originate with our own channel ids.

Credentials travel only in an ``Authorization`` header, never in a URL (asyncari's ``connect()``
puts them in ``?api_key=``), so no log line or error message can carry them.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import asyncari
import httpx
from asyncswagger11.http_client import AsynchronousHttpClient
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

log = logging.getLogger(__name__)


class AriError(Exception):
    """Asterisk refused a request; ``status`` is the HTTP status (404: the object is gone)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status


class AriUnavailable(Exception):
    """Asterisk cannot be reached, or the connection was lost."""


@dataclass(frozen=True)
class AriConfig:
    url: str  # http://127.0.0.1:8088
    username: str
    password: str = field(repr=False)
    app: str = "minyi"
    request_timeout_s: float = 10.0
    ping_interval_s: float = 5.0  # a dead connection is noticed within about twice this
    max_connections: int = 6  # REST connections (httpcore checks every idle one per request: keep it small)

    @property
    def authorization(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


class AriHttp(AsynchronousHttpClient):  # type: ignore[misc]
    """asyncswagger's HTTP client with the credentials in a header, a pool of the configured size
    (asyncari's holds 3 connections) and transport errors that leave the pool usable (asyncari's
    closes its client on the first one). It outlives the sessions built on it, so a request in
    flight when the events WebSocket drops still gets its answer."""

    def __init__(self, config: AriConfig) -> None:
        self.authenticator = None
        self.websockets: set[Any] = set()
        self._authorization = config.authorization
        limits = httpx.Limits(max_connections=config.max_connections,
                              max_keepalive_connections=config.max_connections)
        self.session = httpx.AsyncClient(timeout=config.request_timeout_s, limits=limits)

    async def request(self, method: str, url: str, params: dict[str, Any] | None = None,
                      data: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        headers = {**(headers or {}), "Authorization": self._authorization}
        try:
            response = await self.session.request(method, url, params=params, content=data, headers=headers)
        except httpx.TransportError as exc:
            raise AriUnavailable(f"{method} {urlsplit(url).path}: {type(exc).__name__}") from None
        if response.status_code in (502, 503, 504):  # Asterisk starting or stopping, a proxy without it
            raise AriUnavailable(f"{method} {urlsplit(url).path}: {response.status_code}")
        if response.status_code >= 400:
            raise AriError(response.status_code, _message(response))
        return response

    async def aclose(self) -> None:
        await self.session.aclose()


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.reason_phrase))
    except (ValueError, AttributeError):
        return response.reason_phrase


class _NoHeaders(logging.Filter):
    """websockets logs every handshake header at DEBUG, the Authorization header too."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any("authorization" in str(part).lower() for part in (record.msg, *_args(record)))


class _NoNumbers(logging.Filter):
    """httpx logs every request's URL at INFO (asyncswagger its parameters at DEBUG), and an
    originate's ``endpoint`` holds the resident's phone number."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "endpoint" in str(record.msg) or any("endpoint" in str(a) for a in _args(record)):
            record.msg = _ENDPOINT.sub(r"\1***", record.getMessage())
            record.args = ()
        return True


def _args(record: logging.LogRecord) -> tuple[object, ...]:
    return record.args if isinstance(record.args, tuple) else ()


_ENDPOINT = re.compile(r"(endpoint(?:=|%3D|': '|\W{1,3}))[^&\s'\"]+")
_ws_log = logging.getLogger(__name__ + ".websocket")
_ws_log.setLevel(logging.INFO)  # its DEBUG lines show event frames, whose channel names hold phone numbers
_ws_log.addFilter(_NoHeaders())
for _name in ("httpx", "asyncswagger11.client"):
    logging.getLogger(_name).addFilter(_NoNumbers())


class AriSession:
    """One connection to Asterisk: REST operations and the app's event stream. Every method
    returns ARI JSON as plain dicts, or raises :class:`AriError` / :class:`AriUnavailable`."""

    def __init__(self, ops: Any, ws: ClientConnection | None, app: str) -> None:
        self._ops, self._ws, self.app = ops, ws, app

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The app's events, in order; raises :class:`AriUnavailable` when the socket ends."""
        if self._ws is None:
            raise AriUnavailable("this session was opened without events")
        try:
            async for text in self._ws:
                yield json.loads(text)
        except ConnectionClosed as exc:
            raise AriUnavailable(f"events WebSocket lost ({exc.rcvd.code if exc.rcvd else 'no close frame'})") \
                from None
        raise AriUnavailable("events WebSocket closed by Asterisk")

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def registered(self) -> bool:
        """Whether Asterisk lists the app (some process has its events WebSocket open)."""
        try:
            await self._call("applications", "get", applicationName=self.app)
        except AriError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def app_channel_ids(self) -> set[str]:
        """The channels this app is subscribed to (ours, ringing or in Stasis). ``GET /channels``
        lists every channel of the Asterisk, other apps' too."""
        application: dict[str, Any] = await self._call("applications", "get", applicationName=self.app)
        return set(application.get("channel_ids") or ())

    async def _call(self, resource: str, operation: str, **params: Any) -> Any:
        response = await getattr(getattr(self._ops, resource), operation)(
            **{k: v for k, v in params.items() if v is not None})
        return response.json() if response.status_code != 204 and response.content else None

    # -- channels ---------------------------------------------------------------------------

    async def originate(self, endpoint: str, *, channel_id: str, app_args: str, caller_id: str | None,
                        timeout_s: int, formats: str | None) -> dict[str, Any]:
        channel: dict[str, Any] = await self._call(
            "channels", "originate", endpoint=endpoint, app=self.app, appArgs=app_args, channelId=channel_id,
            callerId=caller_id or None, timeout=timeout_s, formats=formats)
        return channel

    async def channels(self) -> list[dict[str, Any]]:
        channels: list[dict[str, Any]] = await self._call("channels", "list")
        return channels

    async def answer(self, channel_id: str) -> None:
        await self._call("channels", "answer", channelId=channel_id)

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self._call("channels", "hangup", channelId=channel_id, reason=reason)

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str = "s",
                                   priority: int = 1) -> None:
        await self._call("channels", "continueInDialplan", channelId=channel_id, context=context,
                         extension=extension, priority=priority)

    async def play(self, channel_id: str, media: list[str], playback_id: str) -> None:
        await self._call("channels", "play", channelId=channel_id, media=media, playbackId=playback_id)

    async def snoop(self, channel_id: str, snoop_id: str) -> None:
        """A channel in this app that hears both directions of ``channel_id`` (to record the call)."""
        await self._call("channels", "snoopChannelWithId", channelId=channel_id, snoopId=snoop_id, spy="both",
                         app=self.app, appArgs="snoop")

    async def stop_playback(self, playback_id: str) -> None:
        await self._call("playbacks", "stop", playbackId=playback_id)

    async def record(self, channel_id: str, name: str, *, max_seconds: int, max_silence_s: int, beep: bool,
                     terminate_on: str, fmt: str = "wav") -> None:
        await self._call("channels", "record", channelId=channel_id, name=name, format=fmt,
                         maxDurationSeconds=max_seconds, maxSilenceSeconds=max_silence_s, beep=beep,
                         terminateOn=terminate_on, ifExists="overwrite")

    async def stop_recording(self, name: str) -> None:
        await self._call("recordings", "stop", recordingName=name)

    async def recording_file(self, name: str) -> bytes:
        response: httpx.Response = await self._ops.recordings.getStoredFile(recordingName=name)
        return response.content

    async def delete_stored_recording(self, name: str) -> None:
        await self._call("recordings", "deleteStored", recordingName=name)

    # -- bridges ----------------------------------------------------------------------------

    async def create_bridge(self, bridge_id: str, name: str) -> None:
        await self._call("bridges", "createWithId", bridgeId=bridge_id, type="mixing", name=name)

    async def add_to_bridge(self, bridge_id: str, channel_id: str) -> None:
        await self._call("bridges", "addChannel", bridgeId=bridge_id, channel=channel_id)

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self._call("bridges", "destroy", bridgeId=bridge_id)

    async def start_moh(self, bridge_id: str) -> None:
        await self._call("bridges", "startMoh", bridgeId=bridge_id)

    async def stop_moh(self, bridge_id: str) -> None:
        await self._call("bridges", "stopMoh", bridgeId=bridge_id)


@asynccontextmanager
async def connect(config: AriConfig, http: AriHttp | None = None, *, events: bool = True
                  ) -> AsyncIterator[AriSession]:
    """A session whose event WebSocket is up: the app is registered when this yields. Without
    ``events``, a session for REST requests only (a dialer that leaves the calls to ``minyi ari``).
    Without ``http``, the session has an HTTP client of its own, closed with it."""
    async with AsyncExitStack() as stack:
        if http is None:
            http = AriHttp(config)
            stack.push_async_callback(http.aclose)
        base = config.url.rstrip("/") + "/"
        # asyncari's Client builds the Swagger client; entering it would open asyncari's own reader.
        client = asyncari.Client(None, base, config.app, http)
        try:
            await client.swagger.init()
        except (AriError, ValueError, KeyError) as exc:
            raise AriUnavailable(f"cannot load the ARI description from {base}ari/api-docs: {exc}") from None
        if not events:
            yield AriSession(client.swagger, None, config.app)
            return
        ws_url = base.replace("http", "ws", 1) + "ari/events?" + urlencode({"app": config.app})
        try:
            ws = await ws_connect(ws_url, additional_headers={"Authorization": config.authorization},
                                  ping_interval=config.ping_interval_s, ping_timeout=config.ping_interval_s,
                                  max_size=None, logger=_ws_log, open_timeout=config.request_timeout_s)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise AriUnavailable(f"events WebSocket: {type(exc).__name__}: {exc}") from None
        stack.push_async_callback(ws.close)
        yield AriSession(client.swagger, ws, config.app)
