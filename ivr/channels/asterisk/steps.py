"""Carrying out one engine :class:`~ivr.engine.Step` on a call, and the event it leads to.

The prompts of a step play as one playback (ARI plays a list of media in order). A key pressed
during the prompts stops them at once (barge-in) and goes to the engine one key at a time
(``Digits(key, complete=False)``); the engine buffers multi-key entries and answers
``keep_playing`` until the entry is complete. The input timeout starts when the prompts end, the
inter-key timeout after each key. The stop request is never awaited before the next prompt is
asked for: Asterisk queues the new playback behind the stopping one, and waiting would double the
latency under load. A recording gets a beep, a length and silence limit and ``#`` to finish, and
our own stop when the limit has passed, since a channel that sends no audio never reaches either
limit.
"""

from __future__ import annotations

import logging
import uuid

import anyio

from ivr.channels.asterisk.ari import AriError
from ivr.channels.asterisk.calls import Resync, channel_of
from ivr.channels.asterisk.line import TIMEOUT, CallEnded, CallLine, Resynced
from ivr.channels.asterisk.media import media_uri
from ivr.channels.asterisk.options import AsteriskOptions
from ivr.engine import Collect, Digits, Event, Prompt, Record, RecordingDone, Step, Timeout

log = logging.getLogger(__name__)


class StepPlayer:
    def __init__(self, line: CallLine, options: AsteriskOptions) -> None:
        self.line, self.options = line, options
        self.collect: Collect | None = None  # the entry being collected, for keep_playing steps
        self.recordings: list[str] = []  # names of the stored recordings of this call

    async def input_step(self, step: Step) -> Event:
        """Play the step's prompts, then collect keys or a recording: the event for the engine."""
        if step.keep_playing:
            assert self.collect is not None, "keep_playing without an entry being collected"
            return await self._listen(self.collect, None, min(self.options.timing.inter_digit_s,
                                                              self.collect.timeout_s))
        playback = await self.play(step.prompts)
        if step.collect is not None:
            self.collect = step.collect
            return await self._listen(step.collect, playback, None)
        assert step.record is not None, "an input step collects keys or records"
        await self._prompt_before_recording(playback)
        return await self._record(step.record, step.question_id or "open")

    async def play(self, prompts: tuple[Prompt, ...]) -> str | None:
        if not prompts:
            return None
        playback_id = f"minyi-{uuid.uuid4().hex}"
        media = [media_uri(p, self.options.media_prefix) for p in prompts]
        await self.line.rest(lambda a: a.play(self.line.channel_id, media, playback_id))
        return playback_id

    async def until_played(self, playback: str | None) -> None:
        """Wait for the end of a playback nobody may interrupt (a goodbye, a notice)."""
        deadline = self.line.deadline(self.options.timing.playback_guard_s)
        while playback is not None:
            item = await self._next(deadline)
            if item is TIMEOUT or _finished(item, playback):
                return

    async def _listen(self, collect: Collect, playback: str | None, wait_s: float | None) -> Event:
        line, guard = self.line, self.options.timing.playback_guard_s
        deadline = line.deadline(guard if playback is not None else wait_s or collect.timeout_s)
        heard_from: float | None = None  # when the prompt started playing
        while True:
            try:
                item = await self._next(deadline)
            except Resynced:  # the question is asked again: end its prompt, or the new one plays after it
                self._stop_soon(playback)
                raise
            if item is TIMEOUT and playback is not None:  # the prompt never reported its end
                playback, deadline = None, line.deadline(collect.timeout_s)
                continue
            if item is TIMEOUT:
                return Timeout()
            assert isinstance(item, dict)
            if item["type"] == "ChannelDtmfReceived" and channel_of(item) == line.channel_id:
                if not self._settled(playback, heard_from):
                    continue  # meant for a prompt played before the adoption or the reconnect
                self._stop_soon(playback)
                return Digits(str(item["digit"]), complete=False)
            if _started(item, playback):
                heard_from = anyio.current_time()
            if _finished(item, playback):
                playback, deadline = None, line.deadline(collect.timeout_s)
                line.call.settled = True

    async def _prompt_before_recording(self, playback: str | None) -> None:
        """A key during the prompt stops it; the recording starts at once either way."""
        deadline = self.line.deadline(self.options.timing.playback_guard_s)
        while playback is not None:
            item = await self._next(deadline)
            if item is TIMEOUT:
                return
            assert isinstance(item, dict)
            if item["type"] == "ChannelDtmfReceived" and channel_of(item) == self.line.channel_id:
                self._stop_soon(playback)
                return
            if _finished(item, playback):
                return

    async def _record(self, record: Record, question_id: str) -> RecordingDone:
        line, timing = self.line, self.options.timing
        name = f"minyi-{line.call.attempt_id}-{question_id}-{uuid.uuid4().hex[:8]}"
        try:
            await line.rest(lambda a: a.record(line.channel_id, name, max_seconds=record.max_seconds,
                                               max_silence_s=max(1, round(record.silence_s)), beep=record.beep,
                                               terminate_on=record.finish_key or "none"))
        except AriError as exc:  # the resident goes on without this answer rather than being hung up on
            log.error("attempt %s: Asterisk refused to record the open answer %s (%s): it goes unrecorded; "
                      "is its recording directory (astspooldir/recording) there and writable?",
                      line.call.attempt_id, question_id, exc)
            return RecordingDone(None, 0.0, provider_id=name)
        deadline = line.deadline(record.max_seconds + timing.record_grace_s)
        stopping = False
        while True:
            item = await line.next(deadline)
            if item is TIMEOUT:
                if stopping:  # Asterisk never confirmed the stop
                    return RecordingDone(None, 0.0, provider_id=name)
                await line.quietly(lambda a: a.stop_recording(name))
                stopping, deadline = True, line.deadline(timing.end_wait_s)
            elif isinstance(item, Resync):
                await line.quietly(lambda a: a.stop_recording(name))
                line.resync(item)
            elif not isinstance(item, dict):
                continue
            elif item.get("recording", {}).get("name") == name and item["type"] in ("RecordingFinished",
                                                                                    "RecordingFailed"):
                return self._recorded(name, item)
            elif line.ends_call(item) and not stopping:
                # The recording ends with the call; keep what was said if Asterisk reports it.
                stopping, deadline = True, line.deadline(timing.end_wait_s)

    def _recorded(self, name: str, event: dict[str, object]) -> RecordingDone:
        recording = event["recording"]
        assert isinstance(recording, dict)
        duration = float(recording.get("duration") or 0)
        if event["type"] == "RecordingFailed":
            log.warning("attempt %s: Asterisk failed to record %s (%s): the open answer goes unrecorded; an "
                        "Asterisk without its `beep` sound fails every recording with a beep (docs/asterisk.md)",
                        self.line.call.attempt_id, name, recording.get("cause") or "no cause given")
        if event["type"] == "RecordingFailed" or duration <= 0:
            return RecordingDone(None, 0.0, provider_id=name)
        self.recordings.append(name)
        # to be copied home (ivr.channels.asterisk.recordings), or left in Asterisk without a recordings_dir
        path = self.options.recording_path(name)
        return RecordingDone(path, duration, provider_id=name)

    async def _next(self, deadline: float | None) -> object:
        """The next item; a Resync or the end of the call interrupts the step."""
        item = await self.line.next(deadline)
        if isinstance(item, Resync):
            self.line.resync(item)
        if self.line.ends_call(item):
            raise CallEnded("hung up")
        return item

    def _settled(self, playback: str | None, heard_from: float | None) -> bool:
        """Whether a key now answers this step. After an adoption or a reconnect, the resident
        may still be answering a prompt played before it (the channel plays what was queued
        first): keys count once the replayed prompt has played ``settle_s``, or ended."""
        call = self.line.call
        if not call.settled and (playback is None or (
                heard_from is not None and anyio.current_time() - heard_from >= self.options.timing.s(
                    self.options.timing.settle_s))):
            call.settled = True
        return call.settled

    def _stop_soon(self, playback: str | None) -> None:
        if playback is not None:
            self.line.spawn(lambda a: a.stop_playback(playback))


def _started(item: object, playback: str | None) -> bool:
    return (playback is not None and isinstance(item, dict) and item["type"] == "PlaybackStarted"
            and item["playback"]["id"] == playback)


def _finished(item: object, playback: str | None) -> bool:
    return (playback is not None and isinstance(item, dict) and item["type"] == "PlaybackFinished"
            and item["playback"]["id"] == playback)

