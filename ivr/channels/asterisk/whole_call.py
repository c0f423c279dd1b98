"""Recording a whole call for quality control (``MINYI_RECORD_CALLS``), from its answer to its end.

Asterisk records one channel's audio; to hear both sides mixed, the app asks for a *snoop*
channel on the resident's channel (``POST /channels/{id}/snoop/{snoopId}``, ``spy=both``), which
enters this app's Stasis, and records that (``POST /channels/{snoopId}/record``, no length or
silence limit). The snoop channel goes when the resident's channel goes, which ends the recording;
should Asterisk not say so in time, the app stops it. The recording is then kept with the call
attempt (and its interview, if the call opened one) as pending from ``ari://{server}/{name}`` and copied home
with the call's other recordings (:mod:`.recordings`), whether or not an interview opened.

The snoop channel's events go to the call's inbox (an alias in the registry); its id is not of the
``minyi-<attempt>-<hex>`` form, so the app never adopts it as a call of its own.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import anyio

from calls.service import CallService
from ivr.channels.asterisk.ari import AriError
from ivr.channels.asterisk.calls import CallRegistry, channel_of
from ivr.channels.asterisk.line import TIMEOUT, CallEnded, CallLine
from ivr.channels.asterisk.options import AsteriskOptions

log = logging.getLogger(__name__)


class _NotInStasis(Exception):
    pass


class WholeCallRecording:
    def __init__(self, line: CallLine, registry: CallRegistry, options: AsteriskOptions) -> None:
        self.line, self.registry, self.options = line, registry, options
        attempt = line.call.attempt_id
        self.name = f"minyi-{attempt}-call-{uuid.uuid4().hex[:8]}"
        self.snoop_id = f"{line.channel_id}-snoop-{uuid.uuid4().hex[:8]}"  # never adopted as a call
        self.started = False

    async def start(self) -> None:
        """Snoop on the answered channel and record the snoop channel once it is in Stasis.
        CallEnded when the resident's channel is gone meanwhile; a request Asterisk refuses leaves
        the call unrecorded, never ends it."""
        line = self.line
        self.registry.alias(line.call, self.snoop_id)
        try:
            await line.rest(lambda a: a.snoop(line.channel_id, self.snoop_id, app_args="snoop"))
            await self._in_stasis()
            await line.other(lambda a: a.record(self.snoop_id, self.name, max_seconds=0, max_silence_s=0, beep=False,
                                                terminate_on="none"))
        except (AriError, _NotInStasis) as exc:
            log.warning("attempt %s: the call is not recorded: %s", line.call.attempt_id, exc)
            await line.quietly(lambda a: a.hangup(self.snoop_id))
            return
        self.started = True

    async def _in_stasis(self) -> None:
        """Until the snoop channel is in Stasis (recording it before is refused, 409)."""
        line = self.line
        deadline = line.deadline(self.options.timing.end_wait_s)
        while True:
            item = await line.next(deadline)
            if item is TIMEOUT:
                raise _NotInStasis("the snoop channel did not enter Stasis")
            if isinstance(item, dict) and item["type"] == "StasisStart" and channel_of(item) == self.snoop_id:
                return
            if line.ends_call(item):
                raise CallEnded("hung up before the recording started")

    async def finish(self, calls: CallService) -> str | None:
        """After the call: wait for the recording's end and keep it with the call attempt; its name
        (to copy home) or None when nothing was recorded."""
        if not self.started:
            return None
        event = await self._ended() or await self._stopped()
        recording: dict[str, Any] = event["recording"] if event is not None else {}
        seconds = float(recording.get("duration") or 0)
        if event is None or event["type"] == "RecordingFailed" or seconds <= 0:
            log.warning("attempt %s: the whole call's recording %s came to nothing", self.line.call.attempt_id,
                        self.name)
            return None
        path = self.options.recording_path(self.name)
        await anyio.to_thread.run_sync(calls.recorded_whole_call, self.line.call.attempt_id, path, self.name, seconds)
        return self.name

    async def _ended(self) -> dict[str, Any] | None:
        """The recording's RecordingFinished (or Failed), read now or within ``end_wait_s``."""
        line, ended = self.line, self.line.call.recordings_ended
        deadline = line.deadline(self.options.timing.end_wait_s)
        while self.name not in ended and await line.next(deadline) is not TIMEOUT:
            pass
        return ended.get(self.name)

    async def _stopped(self) -> dict[str, Any] | None:
        """Asterisk did not end the recording with the call: stop it, and let the snoop channel go."""
        await self.line.quietly(lambda a: a.stop_recording(self.name))
        await self.line.quietly(lambda a: a.hangup(self.snoop_id))
        return await self._ended()
