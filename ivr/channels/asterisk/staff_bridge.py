"""A staff-placed call in the Stasis app, from the staff member's answer to the end.

The staff member's phone was originated into the app by the web (:mod:`ivr.channels.asterisk.staff`).
When it answers (StasisStart) the staff member waits in a mixing bridge while the resident is
dialled; when the resident answers, the consent notice is played to the resident if the call is
recorded, then the resident joins the bridge and the bridge is recorded. Whoever hangs up ends the
call for both. What happens is reported to :class:`calls.staff_lines.StaffCallEvents`; unanswered
legs are told apart by their hang-up cause (:mod:`ivr.channels.asterisk.causes`).

A supervisor's phone originated with a ``listen`` leg id joins, once answered, a bridge of its own
with a snoop on the resident's channel (``spy=both``, ``whisper=none``): it hears both sides and
is heard by nobody.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio

from calls import recordings
from calls.staff_lines import BridgeRequest, StaffCallEvents
from ivr.channels.asterisk.ari import AriError, AriSession
from ivr.channels.asterisk.calls import Call, CallRegistry, Item, Resync, channel_of
from ivr.channels.asterisk.causes import cause_of, unanswered_status
from ivr.channels.asterisk.line import TIMEOUT, CallEnded, CallLine, Link, Resynced
from ivr.channels.asterisk.media import media_uri
from ivr.channels.asterisk.options import AsteriskOptions, endpoint_for, formats_for
from ivr.channels.asterisk.recordings import RecordingCopier
from ivr.channels.asterisk.staff_legs import LISTEN, RESIDENT, SNOOP, STAFF_RING_S, leg_id, leg_of
from survey.phones import PhoneVault
from survey.vocabulary import CallStatus, StaffCallEnd

log = logging.getLogger(__name__)
T = TypeVar("T")
COMMIT_WAIT_S, COMMIT_WAIT_TRIES = 0.25, 20  # wall seconds: how long a staff call waits for the web's commit


_ENDS: dict[str, StaffCallEnd] = {CallStatus.BUSY: StaffCallEnd.BUSY, CallStatus.NO_ANSWER: StaffCallEnd.NO_ANSWER,
         CallStatus.NON_WORKING: StaffCallEnd.NON_WORKING}


def resident_end(cause: int | None) -> StaffCallEnd:
    """How a resident leg that never answered ended, by its Q.850 cause as an IVR call's is read;
    without a cause (Asterisk reported no end in time) it failed."""
    return _ENDS.get(unanswered_status(cause), StaffCallEnd.FAILED)


@dataclass
class _Leg:
    """A channel of the call other than the staff member's: what the app knows of it."""

    id: str
    dial_status: str | None = None
    cause: int | None = None
    up: bool = False  # in Stasis (answered)
    gone: bool = False

    def note(self, item: dict[str, Any]) -> None:
        kind = item["type"]
        if kind == "Dial" and item.get("dialstatus"):
            self.dial_status = str(item["dialstatus"])
        elif kind == "StasisStart":
            self.up = True
        elif kind == "ChannelDestroyed":
            self.cause = cause_of(int(item.get("cause") or 0), self.dial_status)
            self.gone = True
        elif kind == "StasisEnd":
            self.gone = True


@dataclass
class _Listener:
    """A supervisor listening in: their phone, the snoop on the resident, the bridge joining them."""

    leg: _Leg
    snoop: str = ""
    bridge: str = ""


class StaffBridge:
    def __init__(self, call: Call, link: Link, events: StaffCallEvents, options: AsteriskOptions,
                 vault: PhoneVault | None, registry: CallRegistry, *, on_end: Callable[[Call], None],
                 copier: RecordingCopier | None = None) -> None:
        self.call, self.link, self.events, self.options, self.vault = call, link, events, options, vault
        self.registry, self.on_end, self.copier = registry, on_end, copier
        self.staff_call_id = call.attempt_id  # a staff call's Call carries the staff call's id
        self.bridge = f"minyi-staffbridge-{self.staff_call_id}-{uuid.uuid4().hex[:16]}"
        self.resident: _Leg | None = None
        self.listeners: dict[str, _Listener] = {}
        self.recording: str | None = None
        self.recorded_s = 0.0
        self._bridged = False

    async def run(self) -> None:
        end: tuple[StaffCallEnd, str | None] | None = None
        try:
            async with anyio.create_task_group() as tasks:
                line = CallLine(self.call, self.link, self.options.timing, tasks)
                try:
                    end = await self._carry(line)
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._clean_up(line)
        except Exception:
            log.exception("staff call %s: the call failed", self.staff_call_id)
            end = (StaffCallEnd.FAILED, "app_error")
        finally:
            with anyio.CancelScope(shield=True):
                if end is not None:
                    await self._db(self.events.ended, self.staff_call_id, *end)
            self.registry.remove(self.call)
            self.on_end(self.call)

    # -- the call ---------------------------------------------------------------------------

    async def _carry(self, line: CallLine) -> tuple[StaffCallEnd, str | None] | None:
        if not await self._staff_answers(line):
            return StaffCallEnd.STAFF_UNANSWERED, self._cause(self.call.cause, self.call.lost_cause)
        if self.vault is None:
            log.error("staff call %s: this app has no phone keys to dial the resident with", self.staff_call_id)
            await line.hang_up()
            return StaffCallEnd.FAILED, "no_phone_keys"
        request = await self._request(self.vault)
        if request is None:
            log.warning("staff call %s: unknown or over: hanging up", self.staff_call_id)
            await line.hang_up()
            return None
        await self._db(self.events.staff_answered, self.staff_call_id)
        await line.rest(lambda a: a.create_bridge(self.bridge, f"minyi-staff-{self.staff_call_id}"))
        await line.rest(lambda a: a.add_to_bridge(self.bridge, line.channel_id))
        resident = await self._dial_resident(line, request)
        if resident is None:
            return StaffCallEnd.FAILED, "originate_refused"
        if not await self._resident_answers(line, resident, request):
            if self.call.ended:  # the staff member hung up (or the console did) while it rang
                return StaffCallEnd.CANCELLED, self._cause(self.call.cause, self.call.lost_cause)
            return resident_end(resident.cause), self._cause(resident.cause, "no_report")
        await self._db(self.events.resident_answered, self.staff_call_id)
        await self._connect(line, resident, request)
        return StaffCallEnd.COMPLETED, await self._until_either_hangs_up(line, resident)

    async def _request(self, vault: PhoneVault) -> BridgeRequest | None:
        """The call as the web stored it. The web commits the call after Asterisk accepted the
        originate, so a phone answered at once may be here first: wait a little for the commit."""
        for _ in range(COMMIT_WAIT_TRIES):
            request = await self._db(self.events.request, self.staff_call_id, vault)
            if request is not None:
                return request
            await anyio.sleep(COMMIT_WAIT_S)
        return None

    @staticmethod
    def _cause(cause: int | None, otherwise: str) -> str:
        return otherwise if cause is None else str(cause)

    async def _staff_answers(self, line: CallLine) -> bool:
        deadline = line.deadline(STAFF_RING_S + self.options.timing.answer_guard_s)
        while True:
            item = await line.next(deadline)
            if item is TIMEOUT:
                await line.quietly(lambda a: a.hangup(line.channel_id))
                return False
            if isinstance(item, Resync):
                channel = item.live.get(line.channel_id)
                if channel is None:
                    return False
                if channel["dialplan"]["app_name"] == "Stasis":
                    return True
                continue
            if isinstance(item, dict) and channel_of(item) == line.channel_id and item["type"] == "StasisStart":
                return True
            if await self._other_leg(line, item) or line.ends_call(item):
                return False

    async def _dial_resident(self, line: CallLine, request: BridgeRequest) -> _Leg | None:
        leg = _Leg(leg_id(RESIDENT, self.staff_call_id))
        self.registry.alias(self.call, leg.id)
        self.resident = leg
        endpoint = endpoint_for(self.options.endpoint, request.resident_number)
        try:
            await line.rest(lambda a: a.originate(endpoint, channel_id=leg.id, app_args=f"{RESIDENT},{self.staff_call_id}",
                                                  caller_id=request.caller_id, timeout_s=request.ring_timeout_s,
                                                  formats=formats_for(endpoint)))
        except AriError as exc:
            log.warning("staff call %s: the resident could not be dialled: %s", self.staff_call_id, exc)
            return None
        await self._db(self.events.resident_ringing, self.staff_call_id, leg.id)
        return leg

    async def _resident_answers(self, line: CallLine, leg: _Leg, request: BridgeRequest) -> bool:
        deadline = line.deadline(request.ring_timeout_s + self.options.timing.answer_guard_s)
        while True:
            item = await line.next(deadline)
            if item is TIMEOUT:
                await line.quietly(lambda a: a.hangup(leg.id))
                return False
            if isinstance(item, Resync):
                if line.channel_id not in item.live:
                    line.call.ended = True
                    await line.quietly(lambda a: a.hangup(leg.id))
                    return False
                leg.gone = leg.id not in item.live
                leg.up = not leg.gone and item.live[leg.id]["dialplan"]["app_name"] == "Stasis"
            elif isinstance(item, dict) and channel_of(item) == leg.id:
                leg.note(item)
            elif await self._other_leg(line, item) or line.ends_call(item):
                await line.quietly(lambda a: a.hangup(leg.id))
                return False
            if leg.up:
                return True
            if leg.gone:
                return False

    async def _connect(self, line: CallLine, leg: _Leg, request: BridgeRequest) -> None:
        """The consent notice to the resident first (the staff member waits in the bridge), then
        the resident into the bridge, then the recording."""
        if request.consent is not None:
            playback, media = f"minyi-consent-{uuid.uuid4().hex[:16]}", media_uri(request.consent,
                                                                                 self.options.media_prefix)
            await line.rest(lambda a: a.play(leg.id, [media], playback))
            await self._until_played(line, leg, playback)
        if leg.gone or line.call.ended:
            return
        await line.rest(lambda a: a.add_to_bridge(self.bridge, leg.id))
        self._bridged = True
        if request.record:
            await self._record(line)

    async def _record(self, line: CallLine) -> None:
        """Record the bridge. A recording Asterisk refuses (e.g. a build without
        chan_bridge_media: "Failed to create recording channel") leaves the call going unrecorded,
        as a whole call's recording does: the two are talking, and ending their call would cost
        the interview; the refusal is logged and no recording is stored."""
        name = f"minyi-staffcall-{self.staff_call_id}-{uuid.uuid4().hex[:12]}"
        self.registry.alias(self.call, f"bridge:{self.bridge}")
        try:
            await line.rest(lambda a: a.record_bridge(self.bridge, name))
        except AriError as exc:
            log.warning("staff call %s: the call is not recorded: %s", self.staff_call_id, exc)
            return
        self.recording = name

    async def _until_played(self, line: CallLine, leg: _Leg, playback: str) -> None:
        deadline = line.deadline(self.options.timing.playback_guard_s)
        while True:
            item = await line.next(deadline)
            if item is TIMEOUT:
                return
            if isinstance(item, dict) and item.get("playback", {}).get("id") == playback \
                    and item["type"] == "PlaybackFinished":
                return
            if isinstance(item, dict) and channel_of(item) == leg.id:
                leg.note(item)
            if leg.gone or line.ends_call(item) or await self._other_leg(line, item):
                return

    async def _until_either_hangs_up(self, line: CallLine, leg: _Leg) -> str | None:
        """Until the resident or the staff member hangs up; the other is hung up. Supervisors
        come and go meanwhile. Returns the hang-up cause of whoever ended the call."""
        while not (leg.gone or line.call.ended):
            item = await line.next(None)
            if isinstance(item, Resync):
                leg.gone = leg.id not in item.live
                line.call.ended = line.channel_id not in item.live
            elif isinstance(item, dict) and channel_of(item) == leg.id:
                leg.note(item)
            elif isinstance(item, dict) and self.recording and item.get("recording", {}).get("name") == self.recording:
                self._note_recording(item)
            elif not await self._other_leg(line, item):
                line.ends_call(item)
        cause = leg.cause if leg.gone and not line.call.ended else line.call.cause
        return None if cause is None else str(cause)

    # -- supervisors listening in ------------------------------------------------------------

    async def _other_leg(self, line: CallLine, item: Item | object) -> bool:
        """A supervisor's phone or a snoop: handled here; True when ``item`` was one of theirs."""
        if not isinstance(item, dict):
            return False
        channel_id = channel_of(item) or ""
        kind = (leg_of(channel_id) or ("", 0))[0]
        listener = self.listeners.get(channel_id) or next(
            (x for x in self.listeners.values() if x.snoop == channel_id), None)
        if kind == LISTEN and listener is None:
            listener = self.listeners[channel_id] = _Listener(_Leg(channel_id))
        if listener is None:
            return kind == SNOOP
        if channel_id == listener.snoop:
            await self._snoop_event(line, listener, item)
        else:
            await self._supervisor_event(line, listener, item)
        return True

    async def _supervisor_event(self, line: CallLine, listener: _Listener, item: dict[str, Any]) -> None:
        listener.leg.note(item)
        if listener.leg.gone:
            await self._stop_listening(line, listener)
        elif item["type"] == "StasisStart":
            if not self._bridged or self.resident is None or self.resident.gone:
                log.info("staff call %s: a supervisor answered, but the call is not bridged", self.staff_call_id)
                await self._stop_listening(line, listener)
                return
            listener.snoop = leg_id(SNOOP, self.staff_call_id)
            self.registry.alias(self.call, listener.snoop)
            await self._try(line, listener, lambda a: a.snoop(
                self.resident.id if self.resident else "", listener.snoop,
                app_args=f"{SNOOP},{self.staff_call_id}", spy="both", whisper="none"))

    async def _snoop_event(self, line: CallLine, listener: _Listener, item: dict[str, Any]) -> None:
        """The snoop is in the app: bridge it with the supervisor (it hears, nobody hears it)."""
        if item["type"] in ("StasisEnd", "ChannelDestroyed"):
            await self._stop_listening(line, listener)
        elif item["type"] == "StasisStart" and not listener.bridge:
            listener.bridge = f"minyi-listenbridge-{self.staff_call_id}-{uuid.uuid4().hex[:12]}"
            await self._try(line, listener, lambda a: a.create_bridge(listener.bridge,
                                                                       f"minyi-listen-{self.staff_call_id}"))
            await self._try(line, listener, lambda a: a.add_to_bridge(listener.bridge,
                                                                       f"{listener.snoop},{listener.leg.id}"))

    async def _try(self, line: CallLine, listener: _Listener, request: Callable[[AriSession], Awaitable[Any]]) -> None:
        """A request for a listener: its failure ends the listening, never the call."""
        session = self.link.current
        try:
            if session is None:
                raise AriError(503, "not connected")
            await request(session)
        except (AriError, CallEnded, Resynced) as exc:
            log.warning("staff call %s: listening in failed: %s", self.staff_call_id, exc)
            await self._stop_listening(line, listener)

    async def _stop_listening(self, line: CallLine, listener: _Listener) -> None:
        self.listeners.pop(listener.leg.id, None)
        for channel_id in (listener.leg.id, listener.snoop):
            if channel_id:
                await line.quietly(_hang_up(channel_id))
        if listener.bridge:
            await line.quietly(lambda a: a.destroy_bridge(listener.bridge))

    # -- the end -----------------------------------------------------------------------------

    async def _clean_up(self, line: CallLine) -> None:
        """Hang up whatever is left, stop the recording and bring it home."""
        for listener in list(self.listeners.values()):
            await self._stop_listening(line, listener)
        if self.resident is not None and not self.resident.gone:
            await line.quietly(lambda a: a.hangup(self.resident.id if self.resident else ""))
        if not line.call.ended:
            await line.quietly(lambda a: a.hangup(line.channel_id))
        if self.recording is not None:
            await line.quietly(lambda a: a.stop_recording(self.recording or ""))
            await self._recording_finished(line)
        await line.quietly(lambda a: a.destroy_bridge(self.bridge))
        if self.recording is not None:
            await self._store_recording(self.recording)

    async def _recording_finished(self, line: CallLine) -> None:
        deadline = line.deadline(self.options.timing.end_wait_s)
        while True:
            item = await line.next(deadline)
            if item is TIMEOUT:
                return
            if isinstance(item, dict) and item.get("recording", {}).get("name") == self.recording \
                    and item["type"] in ("RecordingFinished", "RecordingFailed"):
                self._note_recording(item)
                return

    def _note_recording(self, item: dict[str, Any]) -> None:
        if item["type"] in ("RecordingFinished", "RecordingFailed"):
            self.recorded_s = float(item["recording"].get("duration") or 0)

    async def _store_recording(self, name: str) -> None:
        """Record the recording on the call as pending from Asterisk, then bring it home the way
        an interview's recordings come (:mod:`.recordings`: checked, retried when the copy fails)."""
        await self._db(lambda: self.events.recorded(self.staff_call_id, path=recordings.ari_ref(self.options.server, name),
                                                    provider_id=name, seconds=self.recorded_s))
        session = self.link.current
        if self.copier is not None and session is not None:
            report = await self.copier.run(session, [name])
            if report.retrying:
                log.warning("staff call %s: recording %s to copy again later", self.staff_call_id, name)

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args)


def _hang_up(channel_id: str) -> Callable[[AriSession], Awaitable[None]]:
    return lambda a: a.hangup(channel_id)
