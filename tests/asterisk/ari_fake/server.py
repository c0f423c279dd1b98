"""A fake Asterisk 22.10.1 ARI on loopback: REST under ``/ari``, the events WebSocket, and the
api-docs, served by aiohttp in a thread of its own.

Faithful to what the README in /work/shared/asterisk records of a real Asterisk and to its
source: originate subscribes the app to the channel (and to a Local channel's peer, whose events
the app must ignore); answer/play on an unanswered channel is 412; playbacks and recordings run
one after another on a channel's control queue; a DTMF never stops a playback by itself; a
recording of a channel that sends no audio never ends by silence or length, only by stop, the
terminate key or hang-up - except that a channel sending no frames at all (``Mute``) ends it
empty after 4 s; a channel that re-entered Stasis from the dialplan may end with StasisEnd and no
ChannelDestroyed (``stasis_end_only``); while no WebSocket is connected the app is not
registered, events are lost and answered calls cannot enter Stasis.

The application's life is Asterisk's (res_stasis.c, res/ari/ari_websockets.c): a WebSocket with
``?app=`` registers it; a second one takes it over, and the first gets ApplicationReplaced and
then nothing more, though it stays open; when the connection holding the app closes, the app is
deactivated (events are dropped, Stasis() refuses calls) and stays listed by GET /applications
as long as channels are subscribed to it, then disappears. ``restart`` is Asterisk restarting:
every channel hung up with the shutdown flag, then every connection cut, the app unregistered.

And to what a real Asterisk 22.10.1 sent (tests/asterisk/recorded/): originate's Dial events
(``peer``: the dialled channel; ``dialstatus`` "", RINGING, ANSWER, BUSY, ...); a Local channel
that is busy or congested ends with cause 0, its other half with 17 or 34; ringing out is 19; a
hang-up request by the app is ``soft`` with cause 32 (Asterisk's flag, not Q.850), then
StasisEnd, then ChannelDestroyed 16; a hang-up fails the playback in progress.

Every request is validated against the api-docs (:mod:`ari_fake.spec`), every event before it
is sent; problems land in ``violations``. ``traps`` lists costly but legal requests (a Local
channel originated without ``formats``). Times in scripts and ARI parameters are call seconds,
multiplied by ``time_scale`` to get wall time.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import threading
import time
import uuid
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from ari_fake.objects import Bridge, Channel, Playback, Recording, ari_time
from ari_fake.residents import (
    CAUSES,
    DIAL_STATUS,
    RING_OUT,
    HangUp,
    Mute,
    Press,
    Reply,
    Resident,
    Silent,
    Speak,
)
from ari_fake.spec import AriSpec

Handler = Callable[[dict[str, str], dict[str, str], dict[str, Any]], Awaitable[tuple[int, Any]]]
NORMAL = (16, "Normal Clearing")
UNKNOWN = (0, "Unknown")
SOFTHANGUP_EXPLICIT = 32  # the "cause" of a soft ChannelHangupRequest: Asterisk's flag, not Q.850
SOFTHANGUP_SHUTDOWN = 4  # the flag of the soft hang-up Asterisk sends every channel as it shuts down
def wav_silence(seconds: float) -> bytes:
    """A stored recording's file as Asterisk's ``wav`` format writes it: 8 kHz, 16-bit, mono."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x00" * round(seconds * 8000))
    return out.getvalue()


class AriError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FakeAsterisk:
    def __init__(self, spec: AriSpec, *, username: str = "minyi", password: str = "s3cret-Pa55",
                 app: str = "minyi", time_scale: float = 0.05, prompt_s: float = 1.0,
                 amd_contexts: tuple[str, ...] = ("minyi-amd",), sounds_dir: Path | None = None,
                 stasis_end_only: bool = False, validate: bool = True) -> None:
        self.spec, self.app, self.scale, self.prompt_s = spec, app, time_scale, prompt_s
        self.validate = validate  # check every event against events.json (off in the benchmark)
        self.username, self.password = username, password
        self.amd_contexts, self.sounds_dir, self.stasis_end_only = amd_contexts, sounds_dir, stasis_end_only
        self.residents: dict[str, Resident] = {}
        self.violations: list[str] = []
        self.traps: list[str] = []
        self.requests: list[tuple[str, dict[str, str]]] = []  # (resource.nickname, query) of valid requests
        self.api_key_seen = False
        self.latencies: list[float] = []  # DTMF -> next PlaybackStarted on that channel, seconds
        self.interrupted: list[str] = []  # playbacks stopped while playing (barge-in)
        self.peak_calls = 0  # most calls (resident channels) alive at once
        self.events_sent = 0
        self.channels: dict[str, Channel] = {}
        self.playbacks: dict[str, Playback] = {}
        self.recordings: dict[str, Recording] = {}
        self.stored: set[str] = set()
        self.file_failures = 0  # how many of the next GET /recordings/stored/{name}/file answer 500
        self.snoop_failures = 0  # how many of the next snoops fail, as an allocation failure does (500)
        # how many of the next bridge recordings fail, as on an Asterisk without chan_bridge_media (500)
        self.bridge_record_failures = 0
        # how many of the next channel recordings fail, as on an Asterisk whose recording directory
        # is missing or not writable (500; its log: "Unrecognized recording error")
        self.record_failures = 0
        # Wall seconds an originate takes to be answered, its channel created at the end (a loaded
        # Asterisk: 20 ms p50); other requests are served meanwhile, as Asterisk's HTTP threads do.
        self.originate_delay_s = 0.0
        self.bridges: dict[str, Bridge] = {}
        self.moh: set[str] = set()
        self._seq = itertools.count(1)
        self._ws: web.WebSocketResponse | None = None  # the connection the app's events go to
        self._outboxes: dict[web.WebSocketResponse, asyncio.Queue[str]] = {}  # every open events connection
        self._registered = False  # the app is in Asterisk's registry (active or not)
        self.replaced = 0  # ApplicationReplaced events sent
        self.other_apps: list[str] = []  # names of other apps whose events WebSocket was opened
        self._refuse_until = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self.port = 0
        self._handlers: dict[str, Handler] = {
            "channels.originate": self._originate, "channels.list": self._list_channels,
            "channels.get": self._get_channel, "channels.hangup": self._hangup_request,
            "channels.answer": self._answer, "channels.play": self._play, "channels.record": self._record,
            "channels.continueInDialplan": self._continue,
            "playbacks.stop": self._stop_playback, "recordings.stop": self._stop_recording,
            "recordings.getStoredFile": self._stored_file, "recordings.deleteStored": self._delete_stored,
            "bridges.create": self._create_bridge, "bridges.createWithId": self._create_bridge,
            "bridges.addChannel": self._add_to_bridge, "bridges.destroy": self._destroy_bridge,
            "bridges.startMoh": self._start_moh, "bridges.stopMoh": self._stop_moh,
            "bridges.record": self._record_bridge, "channels.snoopChannelWithId": self._snoop,
            "applications.get": self._get_application,
        }

    # -- life cycle (called from the test's thread) -------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeAsterisk:
        ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main(ready)), name="fake-asterisk",
                                        daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Asterisk did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._stopped:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread:
            self._thread.join(10)

    def run(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` (sync or async) on the fake's loop and return its result."""
        async def call() -> Any:
            result = fn()
            return await result if asyncio.iscoroutine(result) else result
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def drop_websocket(self, *, clean: bool = False, refuse_s: float = 0.0) -> None:
        """End the app's WebSocket (a TCP abort unless ``clean``) and answer 503 to everything for
        ``refuse_s`` wall seconds (Asterisk busy); calls in progress go on meanwhile."""
        async def drop() -> None:
            self._refuse_until = time.monotonic() + refuse_s
            ws = self._ws
            if ws is None:
                return
            self._deactivate()
            await self._cut(ws, clean)
        self.run(drop)

    def restart(self, refuse_s: float = 1.0) -> None:
        """Asterisk restarts (``core restart now``), as a real 22.10.1 did
        (recorded/asterisk_restart*.json): every channel is hung up with a soft hang-up whose
        flag is AST_SOFTHANGUP_SHUTDOWN (4) and destroyed with cause 0, Unknown (a ringing one
        after a Dial NOANSWER); then every connection is cut without a close frame, every
        bridge and recording in progress is gone, the app is no longer registered, and nothing
        answers for ``refuse_s`` wall seconds."""
        async def restart() -> None:
            self._refuse_until = time.monotonic() + refuse_s
            peers = {c.peer_id for c in self.channels.values()}  # a Local channel's second half ends with it
            for ch in [c for c in self.channels.values() if c.id not in peers]:
                await self._shut_down(ch)
            await asyncio.sleep(0.05)  # the events go out before the connections are cut
            self._ws, self._registered = None, False
            for ch in list(self.channels.values()):
                ch.gone = True
                for task in ch.tasks:
                    task.cancel()
            for store in (self.channels, self.playbacks, self.recordings, self.bridges):
                store.clear()
            self.moh.clear()
            for ws in list(self._outboxes):
                await self._cut(ws, clean=False)
        self.run(restart)

    async def _shut_down(self, ch: Channel) -> None:
        if ch.gone:  # a snoop, gone with the channel it spied on
            return
        self._emit_channel("ChannelHangupRequest", ch, cause=SOFTHANGUP_SHUTDOWN, soft=True)
        if ch.state != "Up":
            self._emit_channel("ChannelHangupRequest", ch, cause=UNKNOWN[0])
            self._dial(ch, "NOANSWER")
        await self._destroy(ch, UNKNOWN)

    async def _cut(self, ws: web.WebSocketResponse, clean: bool) -> None:
        if clean:
            await ws.close()
        elif ws._req is not None and ws._req.transport is not None:  # noqa: SLF001 - abort the TCP stream
            ws._req.transport.abort()

    def _deactivate(self) -> None:
        """The connection holding the app is gone: events are dropped from now on."""
        self._ws = None
        self._forget_app()

    def _forget_app(self) -> None:
        """res_stasis's cleanup, run when an app registers or unregisters: an app without a
        connection leaves the registry if no channel is subscribed to it any more. A channel
        ending does not sweep: seen on a real Asterisk, an app whose holder left while a call was
        up stays listed after that call ends, until some app registers or unregisters."""
        if self._ws is None and not any(c.owner_app == self.app for c in self.channels.values()):
            self._registered = False

    def hang_up(self, number: str) -> None:
        """The resident on ``number`` hangs up now."""
        async def hang_up() -> None:
            for ch in [c for c in self.channels.values() if c.number == number and c.resident is not None]:
                await self._hang_up_by_resident(ch)
        self.run(hang_up)

    @property
    def connected(self) -> bool:
        """Whether a connection holds the app (its events go somewhere)."""
        return self._ws is not None

    @property
    def registered(self) -> bool:
        """Whether GET /applications/{app} finds the app."""
        return self._registered

    def live_channels(self) -> list[str]:
        return self.run(lambda: [c.id for c in self.channels.values()])

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        server = web.Application(client_max_size=1 << 20)
        server.router.add_route("*", "/ari/{tail:.*}", self._dispatch)
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
        ready.set()
        await self._stopped.wait()
        for ch in list(self.channels.values()):
            for task in ch.tasks:
                task.cancel()
        await runner.cleanup()

    # -- HTTP -----------------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        expected = f"{self.username}:{self.password}"
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            return base64.b64decode(header[6:]).decode() == expected
        if "api_key" in request.query:
            self.api_key_seen = True
            return request.query["api_key"] == expected
        return False

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        path = "/" + request.match_info["tail"]
        if path.startswith("/api-docs/"):
            return self._docs(request, path)
        if path == "/events":
            return await self._events(request)
        return await self._rest(request, path)

    def _docs(self, request: web.Request, path: str) -> web.Response:
        name = path.removeprefix("/api-docs/")
        source = self.spec.resources if name == "resources.json" else self.spec.docs.get(name.removesuffix(".json"))
        if source is None:
            return web.json_response({"message": "Not found"}, status=404)
        return web.json_response({**source, "basePath": f"http://{request.host}/ari"})

    async def _rest(self, request: web.Request, path: str) -> web.Response:
        if time.monotonic() < self._refuse_until:
            return web.json_response({"message": "Service Unavailable"}, status=503)
        repeated = sorted({k for k in request.query if len(request.query.getall(k)) > 1})
        query = {k: v for k, v in request.query.items() if k != "api_key"}
        body = await request.json() if request.can_read_body and request.content_length else None
        op, problems = self.spec.check_request(request.method, path, query, body)
        problems += [f"{path}: query parameter {k!r} repeated" for k in repeated]
        if op is None:
            self.violations += problems
            return web.json_response({"message": "Not found"}, status=404)
        key = f"{op.resource}.{op.nickname}"
        if problems:
            self.violations += problems
            return web.json_response({"message": "; ".join(problems)}, status=400)
        handler = self._handlers.get(key)
        if handler is None:
            self.violations.append(f"{key}: used by the project but not simulated by the fake")
            return web.json_response({"message": "Not implemented"}, status=501)
        self.requests.append((key, query))
        args = op.match(request.method, path) or {}
        try:
            status, payload = await handler(args, query, body or {})
        except AriError as exc:
            return web.json_response({"message": str(exc)}, status=exc.status)
        if isinstance(payload, bytes):
            return web.Response(body=payload, status=status, content_type="audio/wav")
        if payload is None:
            return web.Response(status=status)
        return web.json_response(payload, status=status)

    # -- WebSocket ------------------------------------------------------------------------------

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if time.monotonic() < self._refuse_until:
            return web.json_response({"message": "Service unavailable"}, status=503)
        _op, problems = self.spec.check_request("GET", "/events", dict(request.query), None)
        if problems or not request.query.get("app"):
            self.violations += problems or ["events: no app"]
            return web.json_response({"message": "Invalid application provided in param [app]."}, status=400)
        if request.query["app"] != self.app:
            return await self._other_app(request)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        outbox: asyncio.Queue[str] = asyncio.Queue()
        self._outboxes[ws] = outbox
        old, self._ws, self._registered = self._ws, ws, True
        if old is not None:  # the old connection stays open, but hears nothing more of the app
            self.replaced += 1
            self._emit({"type": "ApplicationReplaced"}, to=old)
        writer = asyncio.create_task(self._write(ws, outbox))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            writer.cancel()
            self._outboxes.pop(ws, None)
            if self._ws is ws:
                self._deactivate()
        return ws

    async def _other_app(self, request: web.Request) -> web.StreamResponse:
        """Another app's events WebSocket: it hears nothing here, but registering and
        unregistering it sweeps the registry (res_stasis's ``cleanup``)."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.other_apps.append(request.query["app"])
        self._forget_app()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._forget_app()
        return ws

    async def _write(self, ws: web.WebSocketResponse, outbox: asyncio.Queue[str]) -> None:
        while True:
            text = await outbox.get()
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def _emit(self, event: dict[str, Any], to: web.WebSocketResponse | None = None) -> None:
        event = {**event, "application": self.app, "timestamp": ari_time(), "asterisk_id": "02:42:ac:11:00:02"}
        if self.validate:
            self.violations += self.spec.check_event(event)
        target = to or self._ws
        outbox = self._outboxes.get(target) if target is not None else None
        if outbox is None or not self._ours(event):
            return  # nobody listening (or another app's channel): Asterisk drops it
        self.events_sent += 1
        outbox.put_nowait(json.dumps(event))

    def _ours(self, event: dict[str, Any]) -> bool:
        """Whether the event concerns no channel of another app."""
        channel = event.get("channel") or event.get("peer")
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        for key in ("playback", "recording"):
            if key in event:
                channel_id = event[key]["target_uri"].partition(":")[2]
        ch = self.channels.get(channel_id or "")
        return ch is None or ch.owner_app in ("", self.app)

    def _emit_channel(self, kind: str, ch: Channel, **extra: Any) -> None:
        self._emit({"type": kind, "channel": ch.json(), **extra})

    # -- channels -------------------------------------------------------------------------------

    def _channel(self, channel_id: str, *, stasis: bool = True, up: bool = False) -> Channel:
        ch = self.channels.get(channel_id)
        if ch is None:
            raise AriError(404, "Channel not found")
        if stasis and ch.stasis_args is None:
            raise AriError(409, "Channel not in Stasis application")
        if up and ch.state in ("Down", "Rsrved", "Ringing"):
            raise AriError(412, "Channel in invalid state")
        return ch

    async def _originate(self, _a: dict[str, str], q: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if self.originate_delay_s:
            await asyncio.sleep(self.originate_delay_s)
        q = {**{k: str(v) for k, v in body.items() if k != "variables"}, **q}
        tech, _, resource = q["endpoint"].partition("/")
        if not tech or not resource:
            raise AriError(400, "Invalid endpoint specified")
        if "app" not in q:
            raise AriError(400, "Application or extension must be specified")
        channel_id = q.get("channelId") or f"{time.time():.6f}".replace(".", "") + f".{next(self._seq)}"
        if channel_id in self.channels:
            raise AriError(409, "Channel with given unique ID already exists")
        if self._ws is None and q["app"] == self.app:
            self.traps.append(f"originate while the app {self.app!r} is not registered: the call cannot enter Stasis")
        local = tech.lower() == "local"
        if local and not q.get("formats"):
            self.traps.append(f"Local channel {q['endpoint']} originated without formats (192 kHz, 11x CPU)")
        number = resource.split("@", 1)[0]
        name, _, cid_num = q.get("callerId", "").rpartition("<")
        caller = {"name": name.strip().strip('"'), "number": cid_num.rstrip(">") or q.get("callerId", "")}
        seq = next(self._seq)
        ch = Channel(channel_id, f"{tech}/{resource}-{seq:08x}" + (";1" if local else ""), number,
                     self.residents.get(number), caller,
                     app_data=",".join(filter(None, [q["app"], q.get("appArgs", "")])))
        ch.owner_app = q["app"]  # another app's channels are listed by GET /channels, their events go elsewhere
        self.channels[ch.id] = ch
        self.peak_calls = max(self.peak_calls, sum(1 for c in self.channels.values() if c.resident is not None))
        if local:
            peer = Channel(q.get("otherChannelId") or f"{channel_id};2", f"{tech}/{resource}-{seq:08x};2", number,
                           None, caller, context=resource.partition("@")[2] or "default")
            ch.peer_id = peer.id
            peer.owner_app = ch.owner_app
            self.channels[peer.id] = peer
        self._dial(ch, "")
        ch.tasks.append(asyncio.create_task(self._ring(ch, int(q.get("timeout", "30")))))
        return 200, ch.json()

    def _dial(self, ch: Channel, status: str) -> None:
        """Originate dials the channel: Dial events with the dialled channel as ``peer``."""
        self._emit({"type": "Dial", "peer": ch.json(), "dialstatus": status,
                    "dialstring": ch.name.split("/", 1)[1].rsplit("-", 1)[0]})

    async def _ring(self, ch: Channel, timeout: int) -> None:
        resident = ch.resident or Resident(outcome="unallocated", ring_s=0.2)
        ch.state = "Ringing"
        self._emit_channel("ChannelStateChange", ch)
        self._dial(ch, "RINGING")
        await self._sleep(min(resident.ring_s, timeout) if timeout > 0 else resident.ring_s)
        if ch.gone:
            return
        if resident.outcome != "answer":
            self._dial(ch, DIAL_STATUS[resident.outcome])
            cause = CAUSES[resident.outcome]
            if ch.peer_id and resident.outcome in ("busy", "congestion"):
                # As seen: a Local channel's other half runs Busy()/Congestion() and ends with
                # 17/34; the half the app originated ends with 0, only its Dial status says BUSY.
                return await self._destroy(ch, UNKNOWN, peer_cause=cause)
            return await self._destroy(ch, cause)
        if 0 < timeout < resident.ring_s:
            self._dial(ch, "NOANSWER")
            return await self._destroy(ch, RING_OUT)  # the dial timed out
        ch.state = "Up"
        self._emit_channel("ChannelStateChange", ch)
        self._dial(ch, "ANSWER")
        if ch.peer_id:
            peer = self.channels[ch.peer_id]
            peer.state = "Up"
            self._emit_channel("ChannelStateChange", peer)
        if self._ws is None and ch.owner_app == self.app:  # Stasis(): "application not registered"
            return await self._destroy(ch, NORMAL)
        self._enter_stasis(ch, ch.app_data.split(",")[1:])
        ch.tasks.append(asyncio.create_task(self._resident(ch)))

    def _enter_stasis(self, ch: Channel, args: list[str]) -> None:
        ch.stasis_args = args
        ch.tasks.append(asyncio.create_task(self._control(ch)))
        self._emit_channel("StasisStart", ch, args=args)

    async def _list_channels(self, *_: Any) -> tuple[int, Any]:
        return 200, [c.json() for c in self.channels.values()]

    async def _get_channel(self, a: dict[str, str], *_: Any) -> tuple[int, Any]:
        return 200, self._channel(a["channelId"], stasis=False).json()

    async def _answer(self, a: dict[str, str], *_: Any) -> tuple[int, Any]:
        self._channel(a["channelId"], up=True)
        return 204, None

    async def _hangup_request(self, a: dict[str, str], q: dict[str, str], _b: Any) -> tuple[int, Any]:
        ch = self._channel(a["channelId"], stasis=False)
        cause = {"normal": NORMAL, "busy": CAUSES["busy"], "congestion": CAUSES["congestion"],
                 "no_answer": CAUSES["no_answer"]}.get(q.get("reason", "normal"))
        if cause is None:
            raise AriError(400, "Invalid reason for hangup provided")
        self._emit_channel("ChannelHangupRequest", ch, cause=SOFTHANGUP_EXPLICIT, soft=True)
        asyncio.create_task(self._destroy(ch, cause))
        return 204, None

    async def _continue(self, a: dict[str, str], q: dict[str, str], _b: Any) -> tuple[int, Any]:
        ch = self._channel(a["channelId"], up=True)
        ch.stasis_args = None
        ch.context = q.get("context", ch.context)
        self._emit_channel("StasisEnd", ch)
        ch.tasks.append(asyncio.create_task(self._dialplan(ch, ch.context)))
        return 204, None

    async def _dialplan(self, ch: Channel, context: str) -> None:
        """What the documented dialplan does: AMD(), then Stasis(app,amd,${AMDSTATUS},${AMDCAUSE})."""
        if context not in self.amd_contexts:
            return await self._destroy(ch, NORMAL)  # no such context: the dialplan ends, the call too
        await self._sleep(2.0)
        if ch.gone:
            return
        resident = ch.resident or Resident()
        ch.from_dialplan = True
        ch.app_data = f"{self.app},amd,{resident.amd},{resident.amd_cause}"
        self._enter_stasis(ch, ["amd", resident.amd, resident.amd_cause])

    async def _destroy(self, ch: Channel, cause: tuple[int, str], peer_cause: tuple[int, str] | None = None) -> None:
        if ch.gone:
            return
        ch.gone = True
        if ch.current is not None:
            self._interrupt(ch.current)
            await asyncio.sleep(0)
        bridge = self.bridges.get(ch.bridge_id or "")
        if bridge is not None and ch.id in bridge.channels:
            bridge.channels.remove(ch.id)
            self._emit({"type": "ChannelLeftBridge", "bridge": bridge.json(), "channel": ch.json()})
        in_stasis = ch.stasis_args is not None
        if in_stasis:
            self._emit_channel("StasisEnd", ch)
        if not (self.stasis_end_only and ch.from_dialplan):
            self._emit_channel("ChannelDestroyed", ch, cause=cause[0], cause_txt=cause[1])
        self.channels.pop(ch.id, None)
        for snoop in [c for c in self.channels.values() if c.snooped == ch.id]:  # a snoop ends with its channel
            await self._destroy(snoop, NORMAL)
        peer = self.channels.get(ch.peer_id or "")
        if peer is not None:
            peer.gone = True
            peer_cause = peer_cause or cause
            self._emit_channel("ChannelDestroyed", peer, cause=peer_cause[0], cause_txt=peer_cause[1])
            self.channels.pop(peer.id, None)
        for task in ch.tasks:
            if task is not asyncio.current_task():
                task.cancel()

    # -- media: one command at a time per channel, like Asterisk's control queue ----------------

    async def _play(self, a: dict[str, str], q: dict[str, str], _b: Any) -> tuple[int, Any]:
        ch = self._channel(a["channelId"], up=True)
        pb_id = q.get("playbackId") or str(uuid.uuid4())
        pb = Playback(pb_id, q["media"].split(","), ch.id, q.get("lang") or ch.language)
        self.playbacks[pb.id] = pb
        ch.commands.put_nowait(pb)
        return 201, pb.json()

    def _check_new_recording(self, q: dict[str, str]) -> None:
        """Asterisk's refusals of a new recording (a channel's or a bridge's): a format it cannot
        write, a name recording now or stored already (unless ``ifExists`` allows it)."""
        if q["format"] not in ("wav", "gsm", "ulaw", "sln"):
            raise AriError(422, "specified format is unknown on this system")
        live = self.recordings.get(q["name"])
        if (live is not None and live.state in ("queued", "recording")) or (
                q["name"] in self.stored and q.get("ifExists", "fail") == "fail"):
            raise AriError(409, f"Recording '{q['name']}' already exists and can not be overwritten")

    async def _record(self, a: dict[str, str], q: dict[str, str], _b: Any) -> tuple[int, Any]:
        ch = self._channel(a["channelId"])
        if self.record_failures:
            self.record_failures -= 1
            raise AriError(500, "Internal Server Error")
        self._check_new_recording(q)
        rec = Recording(q["name"], q["format"], ch.id, int(q.get("maxDurationSeconds", "0")),
                        int(q.get("maxSilenceSeconds", "0")), q.get("terminateOn", "none"))
        self.recordings[rec.name] = rec
        ch.commands.put_nowait(rec)
        return 201, rec.json()

    async def _control(self, ch: Channel) -> None:
        while not ch.gone:
            command = await ch.commands.get()
            ch.current = command
            if isinstance(command, Playback):
                await self._run_playback(ch, command)
            else:
                await self._run_recording(ch, command)
            ch.current = None

    async def _run_playback(self, ch: Channel, pb: Playback) -> None:
        if not pb.canceled and not ch.gone:
            pb.state = "playing"
            self._emit({"type": "PlaybackStarted", "playback": pb.json()})
            if ch.last_dtmf_at is not None:
                self.latencies.append(time.monotonic() - ch.last_dtmf_at)
                ch.last_dtmf_at = None
            ch.heard.put_nowait(("playback", pb))
            for index in range(len(pb.media)):
                pb.index = index
                if index:
                    pb.state = "continuing"
                    self._emit({"type": "PlaybackContinuing", "playback": pb.json()})
                    pb.state = "playing"
                if not self._sound_exists(pb.media[pb.index]):
                    pb.state = "failed"
                    break
                try:
                    await asyncio.wait_for(pb.stop.wait(), self.prompt_s * self.scale)
                    break
                except TimeoutError:
                    pass
        pb.state = "failed" if pb.state == "failed" or ch.gone else "done"  # as seen: a hang-up fails it
        self._emit({"type": "PlaybackFinished", "playback": pb.json()})
        pb.done.set()
        self.playbacks.pop(pb.id, None)

    def _sound_exists(self, media: str) -> bool:
        if self.sounds_dir is None or not media.startswith("sound:"):
            return True
        name = media.removeprefix("sound:")
        return any((self.sounds_dir / f"{name}.{ext}").is_file() for ext in ("wav", "ulaw", "sln", "gsm"))

    async def _run_recording(self, ch: Channel, rec: Recording) -> None:
        if ch.gone:
            return
        rec.state = "recording"
        self._emit({"type": "RecordingStarted", "recording": rec.json()})
        audio = asyncio.create_task(self._talk(ch, rec, ch.speech))
        ch.speech = None
        await rec.finish.wait()
        audio.cancel()
        rec.state = "done"
        self.stored.add(rec.name)
        self._emit({"type": "RecordingFinished", "recording": rec.json()})

    async def _talk(self, ch: Channel, rec: Recording, speech: Speak | Mute | None) -> None:
        """Audio frames reach the recorder only while the resident sends audio; the length and
        silence limits count those frames, so a channel without audio never ends on its own -
        unless it sends no frames at all (Mute): Asterisk gives up after 2 x 2 s."""
        if ch.snooped is not None:  # a snoop channel hears the call as long as it lasts
            return await self._frames(rec, float("inf"), talking=True)
        if isinstance(speech, Mute) and speech.ends_after_s is not None:
            await self._sleep(speech.ends_after_s)  # no frame for 2 x 2 s: "No audio available"
            return rec.finish.set()
        if not isinstance(speech, Speak):
            return
        limit = rec.max_duration or float("inf")
        talk = min(speech.seconds, limit)
        await self._frames(rec, talk, talking=True)
        if talk >= limit:
            rec.cause = "max-duration"
            return rec.finish.set()
        if speech.then == "#":
            return self._dtmf(ch, "#")
        if speech.then == "hangup":
            return await self._hang_up_by_resident(ch)
        silence = min(rec.max_silence or float("inf"), limit - talk)
        await self._frames(rec, silence, talking=False)
        rec.cause = "silence" if rec.max_silence and silence == rec.max_silence else "max-duration"
        rec.finish.set()

    async def _frames(self, rec: Recording, seconds: float, *, talking: bool) -> None:
        step = 0.25
        done = 0.0
        while done < seconds and not rec.finish.is_set():
            chunk = min(step, seconds - done)
            await self._sleep(chunk)
            done += chunk
            rec.duration += chunk
            rec.talking += chunk if talking else 0.0

    def _interrupt(self, command: Playback | Recording) -> None:
        if isinstance(command, Playback):
            command.stop.set()
        else:
            command.finish.set()

    async def _stop_playback(self, a: dict[str, str], *_: Any) -> tuple[int, Any]:
        pb = self.playbacks.get(a["playbackId"])
        if pb is None:
            raise AriError(404, "Playback not found")
        if pb.state == "queued":
            pb.canceled = True
        elif not pb.stop.is_set():
            self.interrupted.append(pb.id)
        pb.stop.set()
        return 204, None

    async def _stop_recording(self, a: dict[str, str], *_: Any) -> tuple[int, Any]:
        rec = self.recordings.get(a["recordingName"])
        if rec is None or rec.state not in ("queued", "recording"):
            raise AriError(404, "Recording not found")
        rec.finish.set()
        return 204, None

    async def _stored_file(self, a: dict[str, str], *_: Any) -> tuple[int, Any]:
        if a["recordingName"] not in self.stored:
            raise AriError(404, "Recording not found")
        if self.file_failures:
            self.file_failures -= 1
            raise AriError(500, "Internal Server Error")
        rec = self.recordings.get(a["recordingName"])
        return 200, wav_silence(rec.duration if rec is not None else 0.0)

    async def _delete_stored(self, a: dict[str, str], *_: Any) -> tuple[int, Any]:
        if a["recordingName"] not in self.stored:
            raise AriError(404, "Recording not found")
        self.stored.discard(a["recordingName"])
        return 204, None

    # -- the person on the line -----------------------------------------------------------------

    async def _resident(self, ch: Channel) -> None:
        resident = ch.resident or Resident()
        if resident.talk_s is not None:
            return await self._operator(ch, resident.talk_s)
        while not ch.gone:
            kind, pb = await ch.heard.get()
            if kind == "playback":
                await self._react(ch, resident.reply_to(pb.media), pb)

    async def _react(self, ch: Channel, reply: Reply, pb: Playback) -> None:
        if isinstance(reply, Speak | Mute):
            ch.speech = reply
            return
        if isinstance(reply, Silent):
            return
        if not reply.during:
            await pb.done.wait()
        await self._sleep(reply.delay_s)
        if isinstance(reply, HangUp):
            return await self._hang_up_by_resident(ch)
        assert isinstance(reply, Press)
        for i, key in enumerate(reply.keys):
            if i:
                await self._sleep(reply.gap_s)
            if ch.gone:
                return
            self._dtmf(ch, key)

    def _dtmf(self, ch: Channel, digit: str) -> None:
        ch.last_dtmf_at = time.monotonic()
        self._emit_channel("ChannelDtmfReceived", ch, digit=digit, duration_ms=100)
        rec = ch.current
        if isinstance(rec, Recording) and rec.terminate_on in ("any", digit):
            rec.finish.set()

    async def _hang_up_by_resident(self, ch: Channel) -> None:
        self._emit_channel("ChannelHangupRequest", ch, cause=NORMAL[0])
        await self._destroy(ch, NORMAL)

    async def _operator(self, ch: Channel, talk_s: float) -> None:
        while ch.bridge_id is None:
            await asyncio.sleep(0.01)
        await self._sleep(talk_s)
        await self._hang_up_by_resident(ch)

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds * self.scale)

    # -- bridges --------------------------------------------------------------------------------

    async def _create_bridge(self, a: dict[str, str], q: dict[str, str], _b: Any) -> tuple[int, Any]:
        kinds = q.get("type", "mixing").split(",")
        bridge = Bridge(a.get("bridgeId") or str(uuid.uuid4()), q.get("name", ""),
                        "holding" if "holding" in kinds else "mixing")
        self.bridges[bridge.id] = bridge
        return 200, bridge.json()

    def _bridge(self, bridge_id: str) -> Bridge:
        bridge = self.bridges.get(bridge_id)
        if bridge is None:
            raise AriError(404, "Bridge not found")
        return bridge

    async def _add_to_bridge(self, a: dict[str, str], q: dict[str, str], _b: Any) -> tuple[int, Any]:
        bridge = self._bridge(a["bridgeId"])
        for channel_id in q["channel"].split(","):
            ch = self.channels.get(channel_id)
            if ch is None:
                raise AriError(400, "Channel not found")
            if ch.stasis_args is None:
                raise AriError(422, "Channel not in Stasis application")
            if isinstance(ch.current, Recording):
                raise AriError(409, "Channel currently recording")
            bridge.channels.append(ch.id)
            ch.bridge_id = bridge.id
            self._emit({"type": "ChannelEnteredBridge", "bridge": bridge.json(), "channel": ch.json()})
        return 204, None

    async def _record_bridge(self, a: dict[str, str], q: dict[str, str], _b: Any) -> tuple[int, Any]:
        """Record what the bridge mixes, until stopped or the bridge is destroyed (res_stasis_recording)."""
        bridge = self._bridge(a["bridgeId"])
        if self.bridge_record_failures:
            self.bridge_record_failures -= 1
            raise AriError(500, "Failed to create recording channel")
        self._check_new_recording(q)
        rec = Recording(q["name"], q["format"], "", int(q.get("maxDurationSeconds", "0")),
                        int(q.get("maxSilenceSeconds", "0")), q.get("terminateOn", "none"), bridge_id=bridge.id)
        self.recordings[rec.name] = rec
        asyncio.create_task(self._run_bridge_recording(rec))
        return 201, rec.json()

    async def _run_bridge_recording(self, rec: Recording) -> None:
        rec.state = "recording"
        self._emit({"type": "RecordingStarted", "recording": rec.json()})
        started = time.monotonic()
        await rec.finish.wait()
        rec.duration = rec.talking = (time.monotonic() - started) / self.scale
        rec.state = "done"
        self.stored.add(rec.name)
        self._emit({"type": "RecordingFinished", "recording": rec.json()})

    async def _snoop(self, a: dict[str, str], q: dict[str, str], _b: Any) -> tuple[int, Any]:
        """A channel hearing (``spy``) and speaking to (``whisper``) another, up at once and in the
        app (res_stasis_snoop: named ``Snoop/<id>-<seq>``), until the channel it hears ends, which
        ends it too."""
        target = self._channel(a["channelId"], stasis=False)
        if self.snoop_failures:
            self.snoop_failures -= 1
            raise AriError(500, "Allocation failed")
        if a["snoopId"] in self.channels:
            raise AriError(400, "Channel with given unique ID already exists")
        snoop = Channel(a["snoopId"], f"Snoop/{target.id}-{next(self._seq):08x}", "", None, {"name": "", "number": ""},
                        state="Up", app_data=",".join(filter(None, [q["app"], q.get("appArgs", "")])),
                        snooped=target.id, spy=q.get("spy", "none"), whisper=q.get("whisper", "none"))
        snoop.owner_app = q["app"]
        self.channels[snoop.id] = snoop
        self._enter_stasis(snoop, snoop.app_data.split(",")[1:])
        return 200, snoop.json()

    def bridge_of(self, channel_id: str) -> Bridge | None:
        """The bridge a channel is in (for the tests)."""
        return next((b for b in self.bridges.values() if channel_id in b.channels), None)

    async def _destroy_bridge(self, a: dict[str, str], *_: Any) -> tuple[int, Any]:
        bridge = self._bridge(a["bridgeId"])
        for rec in [r for r in self.recordings.values() if r.bridge_id == bridge.id and r.state == "recording"]:
            rec.finish.set()  # a bridge's recording ends with the bridge
        for channel_id in list(bridge.channels):
            bridge.channels.remove(channel_id)
            ch = self.channels.get(channel_id)
            if ch is not None:
                ch.bridge_id = None
                self._emit({"type": "ChannelLeftBridge", "bridge": bridge.json(), "channel": ch.json()})
        self.bridges.pop(bridge.id)
        self.moh.discard(bridge.id)
        self._emit({"type": "BridgeDestroyed", "bridge": bridge.json()})
        return 204, None

    async def _start_moh(self, a: dict[str, str], *_: Any) -> tuple[int, Any]:
        self.moh.add(self._bridge(a["bridgeId"]).id)
        return 204, None

    async def _stop_moh(self, a: dict[str, str], *_: Any) -> tuple[int, Any]:
        self.moh.discard(self._bridge(a["bridgeId"]).id)
        return 204, None

    # -- Asterisk and applications --------------------------------------------------------------

    async def _get_application(self, a: dict[str, str], *_: Any) -> tuple[int, Any]:
        if a["applicationName"] != self.app or not self._registered:
            raise AriError(404, "Application not found")
        return 200, {"name": self.app, "channel_ids": [c.id for c in self.channels.values() if c.owner_app == self.app],
                     "bridge_ids": list(self.bridges),
                     "endpoint_ids": [], "device_names": [], "events_allowed": [], "events_disallowed": []}
