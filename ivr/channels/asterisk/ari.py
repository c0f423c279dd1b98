"""The adapter: the only module that talks to Asterisk's REST Interface.

REST requests go through :mod:`ivr.channels.asterisk.rest`: a few keep-alive connections and the
operations of the api-docs the server itself serves, so an operation or a parameter that this
Asterisk does not know fails here before anything is sent. (asyncari's Swagger client on httpx
did the same at about a millisecond of the event loop per request, which at 500 calls was all
of it: docs/asterisk.md.) The event WebSocket is a thin reader of our own on ``websockets``:
asyncari's reader does not suit a long-running service - it ends silently on a clean close, never
pings (a half-open connection goes unnoticed), ends the client when a consumer is 1.5 s late, and
after a reconnect its object cache asserts on the first event of a call still in progress. We
originate with our own channel ids.

Credentials travel only in an ``Authorization`` header, never in a URL, so no log line or error
message can carry them.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ivr.channels.asterisk.rest import HttpFailed, HttpPool, Operations, Response

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
    max_connections: int = 16  # keep-alive REST connections (Asterisk serves each in a thread of its own)

    @property
    def authorization(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


class AriHttp:
    """The REST connections, shared by the sessions built on them, so a request in flight when
    the events WebSocket drops still gets its answer. Asterisk's refusals become
    :class:`AriError`, a lost or unreachable server :class:`AriUnavailable`."""

    def __init__(self, config: AriConfig) -> None:
        self.pool = HttpPool(config.url, config.authorization, size=config.max_connections,
                             timeout_s=config.request_timeout_s)

    async def request(self, method: str, target: str, body: bytes | None = None) -> Response:
        path = target.partition("?")[0]  # never the query: an originate's holds a phone number
        try:
            response = await self.pool.request(method, target, body)
        except HttpFailed as exc:
            raise AriUnavailable(f"{method} {path}: {exc}") from None
        log.debug("%s %s: %s", method, path, response.status)
        if response.status in (502, 503, 504):  # Asterisk starting or stopping, a proxy without it
            raise AriUnavailable(f"{method} {path}: {response.status}")
        if response.status >= 400:
            raise AriError(response.status, error_message(response.body, response.reason))
        return response

    async def aclose(self) -> None:
        await self.pool.aclose()


def error_message(body: bytes, reason: str) -> str:
    """Asterisk's own words for a refusal (its JSON ``message``), else the HTTP reason."""
    try:
        return str(json.loads(body).get("message", reason))
    except (ValueError, AttributeError):
        return reason


class _NoHeaders(logging.Filter):
    """websockets logs every handshake header at DEBUG, the Authorization header too."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any("authorization" in str(part).lower() for part in (record.msg, *_args(record)))


def _args(record: logging.LogRecord) -> tuple[object, ...]:
    return record.args if isinstance(record.args, tuple) else ()


_ws_log = logging.getLogger(__name__ + ".websocket")
_ws_log.setLevel(logging.INFO)  # its DEBUG lines show event frames, whose channel names hold phone numbers
_ws_log.addFilter(_NoHeaders())


class AriSession:
    """One connection to Asterisk: REST operations and the app's event stream. Every method
    returns ARI JSON as plain dicts, or raises :class:`AriError` / :class:`AriUnavailable`."""

    def __init__(self, http: AriHttp, ops: Operations, ws: ClientConnection | None, app: str) -> None:
        self._http, self._ops, self._ws, self.app = http, ops, ws, app

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
        """Whether Asterisk lists the app (some process has its events WebSocket open, or had it
        while calls of the app were up)."""
        return await self.application() is not None

    async def application(self) -> dict[str, Any] | None:
        """The app as Asterisk lists it (``channel_ids``, ``bridge_ids``), None when unlisted."""
        try:
            application: dict[str, Any] = await self._call("applications", "get", applicationName=self.app)
        except AriError as exc:
            if exc.status == 404:
                return None
            raise
        return application

    async def app_channel_ids(self) -> set[str]:
        """The channels this app is subscribed to (ours, ringing or in Stasis). ``GET /channels``
        lists every channel of the Asterisk, other apps' too."""
        application = await self.application()
        if application is None:
            raise AriError(404, f"Application {self.app!r} not found")
        return set(application.get("channel_ids") or ())

    async def _call(self, resource: str, operation: str, **params: Any) -> Any:
        response = await self._send(resource, operation, params)
        return response.json() if response.status != 204 and response.body else None

    async def _do(self, resource: str, operation: str, **params: Any) -> None:
        """An operation whose reply nobody reads (a playback's or a recording's JSON): not parsed."""
        await self._send(resource, operation, params)

    async def _send(self, resource: str, operation: str, params: dict[str, Any]) -> Response:
        op = self._ops.get(resource, operation)
        target, body = op.target(operation, params)
        return await self._http.request(op.method, target, body)

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
        await self._do("channels", "answer", channelId=channel_id)

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self._do("channels", "hangup", channelId=channel_id, reason=reason)

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str = "s",
                                   priority: int = 1) -> None:
        await self._do("channels", "continueInDialplan", channelId=channel_id, context=context,
                         extension=extension, priority=priority)

    async def play(self, channel_id: str, media: list[str], playback_id: str) -> None:
        await self._do("channels", "play", channelId=channel_id, media=media, playbackId=playback_id)

    async def stop_playback(self, playback_id: str) -> None:
        await self._do("playbacks", "stop", playbackId=playback_id)

    async def record(self, channel_id: str, name: str, *, max_seconds: int, max_silence_s: int, beep: bool,
                     terminate_on: str, fmt: str = "wav") -> None:
        await self._do("channels", "record", channelId=channel_id, name=name, format=fmt,
                         maxDurationSeconds=max_seconds, maxSilenceSeconds=max_silence_s, beep=beep,
                         terminateOn=terminate_on, ifExists="overwrite")

    async def snoop(self, channel_id: str, snoop_id: str, *, app_args: str, spy: str = "both",
                    whisper: str = "none") -> dict[str, Any]:
        """A channel that hears ``channel_id`` (``spy``) into this app; ``whisper`` none: it says nothing."""
        channel: dict[str, Any] = await self._call("channels", "snoopChannelWithId", channelId=channel_id,
                                                   snoopId=snoop_id, app=self.app, appArgs=app_args, spy=spy,
                                                   whisper=whisper)
        return channel

    async def stop_recording(self, name: str) -> None:
        await self._do("recordings", "stop", recordingName=name)

    async def recording_file(self, name: str) -> bytes:
        response = await self._send("recordings", "getStoredFile", {"recordingName": name})
        return response.body

    async def delete_stored_recording(self, name: str) -> None:
        await self._do("recordings", "deleteStored", recordingName=name)

    # -- bridges ----------------------------------------------------------------------------

    async def create_bridge(self, bridge_id: str, name: str) -> None:
        await self._do("bridges", "createWithId", bridgeId=bridge_id, type="mixing", name=name)

    async def add_to_bridge(self, bridge_id: str, channel_id: str) -> None:
        await self._do("bridges", "addChannel", bridgeId=bridge_id, channel=channel_id)

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self._do("bridges", "destroy", bridgeId=bridge_id)

    async def record_bridge(self, bridge_id: str, name: str, fmt: str = "wav") -> None:
        """Record what the bridge mixes until it is stopped or destroyed."""
        await self._do("bridges", "record", bridgeId=bridge_id, name=name, format=fmt, ifExists="overwrite",
                         beep=False, terminateOn="none")

    async def start_moh(self, bridge_id: str) -> None:
        await self._do("bridges", "startMoh", bridgeId=bridge_id)

    async def stop_moh(self, bridge_id: str) -> None:
        await self._do("bridges", "stopMoh", bridgeId=bridge_id)


async def sweep_registry(config: AriConfig, app: str) -> None:
    """Open and close an events WebSocket for ``app`` (a throwaway name). Asterisk 22 sweeps its
    app registry only when an app registers or unregisters (res_stasis.c, ``cleanup``): an app
    whose holder left while calls of it were up stays listed, serving nobody, after the last
    call ends - until someone registers or unregisters an app."""
    url = config.url.rstrip("/").replace("http", "ws", 1) + "/ari/events?" + urlencode({"app": app})
    try:
        async with ws_connect(url, additional_headers={"Authorization": config.authorization}, max_size=None,
                              logger=_ws_log, open_timeout=config.request_timeout_s):
            pass
    except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
        raise AriUnavailable(f"events WebSocket: {type(exc).__name__}: {exc}") from None


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
        try:
            ops = await Operations.load(lambda target: http.request("GET", target))
        except (AriError, ValueError, KeyError, TypeError) as exc:
            raise AriUnavailable(f"cannot load the ARI description from {base}ari/api-docs: {exc}") from None
        if not events:
            yield AriSession(http, ops, None, config.app)
            return
        ws_url = base.replace("http", "ws", 1) + "ari/events?" + urlencode({"app": config.app})
        try:
            # compression=None: Asterisk's WebSocket server (res_http_websocket) takes no
            # extension; a server that accepted permessage-deflate (the fake) had every event,
            # each a few hundred bytes, inflated on the event loop
            ws = await ws_connect(ws_url, additional_headers={"Authorization": config.authorization},
                                  ping_interval=config.ping_interval_s, ping_timeout=config.ping_interval_s,
                                  max_size=None, logger=_ws_log, open_timeout=config.request_timeout_s,
                                  compression=None)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise AriUnavailable(f"events WebSocket: {type(exc).__name__}: {exc}") from None
        stack.push_async_callback(ws.close)
        yield AriSession(http, ops, ws, config.app)
