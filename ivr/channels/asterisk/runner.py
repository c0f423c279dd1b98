"""One call from originate to result: wait for the answer, let the dialplan's AMD() judge the
answer, run the interview step by step, and hand the result to the dialer.

Database work (the engine and its effects, the result) runs in the app's few database threads
(``AsteriskOptions.db_threads``), one step at a time per call, so the event loop only ever waits
on the network; a key is fed and stored by the app's group commit (:mod:`calls.group_commit`)
with the keys of other calls, and the next prompt is asked for only once it is stored. The result always lands: an unexpected error or a shutdown still
reports the call (and the interview is told the line dropped, so it is stored as partial).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import anyio
from sqlalchemy.exc import DBAPIError

from calls.group_commit import GroupCommit
from calls.operations import Turn
from calls.service import CallService, LiveCall
from dialer.protocol import CallResult
from ivr.channels.asterisk.ari import AriError, AriUnavailable
from ivr.channels.asterisk.calls import Call, CallRegistry, Resync, channel_of
from ivr.channels.asterisk.causes import APP_ERROR, APP_STOPPED, CONNECTION_LOST, NO_REPORT, unanswered_status
from ivr.channels.asterisk.line import TIMEOUT, CallEnded, CallLine, Link, Resynced
from ivr.channels.asterisk.operator import OperatorBridge
from ivr.channels.asterisk.options import AsteriskOptions
from ivr.channels.asterisk.recordings import RecordingCopier
from ivr.channels.asterisk.steps import StepPlayer
from ivr.channels.asterisk.whole_call import WholeCallRecording
from ivr.engine import Event, HangUp, Step
from survey.clock import Clock
from survey.vocabulary import AttemptStatus, CallStatus

log = logging.getLogger(__name__)
T = TypeVar("T")


class CallRunner:
    def __init__(self, call: Call, link: Link, calls: CallService, options: AsteriskOptions, clock: Clock,
                 registry: CallRegistry, *, on_end: Callable[[Call], None], db: anyio.CapacityLimiter,
                 group: GroupCommit[tuple[LiveCall, Event], Turn], moves: GroupCommit[tuple[int, str], bool],
                 copier: RecordingCopier | None = None) -> None:
        """``db``: the threads for the call's database work; ``group``: the app's writer of keys,
        ``moves`` of the attempts' progress (:mod:`calls.group_commit`)."""
        self.call, self.link, self.calls, self.options, self.clock = call, link, calls, options, clock
        self.registry, self.on_end, self.db, self.copier = registry, on_end, db, copier
        self.group, self.moves = group, moves
        self.interview: LiveCall | None = None  # from the answer until the call ends

    async def run(self) -> None:
        call = self.call
        result: CallResult | None = None
        try:
            with anyio.CancelScope() as call.scope:  # cancelled when the call is released
                if call.released:
                    call.scope.cancel()
                result = await self._carry()
            if result is not None:
                with anyio.CancelScope(shield=True):
                    await self._report(result)
        finally:  # a line is busy until its result is stored
            if self.interview is not None:
                with anyio.CancelScope(shield=True):
                    await self._db(self.calls.close, self.interview)
            self.registry.remove(call)
            if call.released:
                log.info("attempt %s: let go of channel %s", call.attempt_id, call.channel_id)
            else:
                self.on_end(call)

    async def _carry(self) -> CallResult | None:
        """The call to its end; None when it was abandoned (and reported) instead."""
        call = self.call
        try:
            async with anyio.create_task_group() as tasks:
                line = CallLine(call, self.link, self.options.timing, tasks)
                player = StepPlayer(line, self.options)
                whole = WholeCallRecording(line, self.registry, self.options) if self.options.record_calls else None
                result = await self._call(line, player, whole)
                whole_name = await whole.finish(self.calls) if whole is not None else None
                await self._fetch_recordings(player.recordings + ([whole_name] if whole_name else []))
            return result
        except anyio.get_cancelled_exc_class():
            if not call.released:  # the app stopped: hang up and report
                with anyio.CancelScope(shield=True):
                    await self._abandon("the ARI app stopped during the call", APP_STOPPED)
            raise
        except Exception as exc:
            log.exception("attempt %s: the call failed", call.attempt_id)
            with anyio.CancelScope(shield=True):
                await self._abandon(f"{type(exc).__name__}: {exc}", APP_ERROR)
            return None

    async def _call(self, line: CallLine, player: StepPlayer, whole: WholeCallRecording | None) -> CallResult:
        call = self.call
        if not await self._answered(line):
            log.info("attempt %s: not answered (cause %s)", call.attempt_id, call.cause)
            return self._result(unanswered_status(call.cause) if call.error is None else CallStatus.UNKNOWN)
        call.answered_at = call.answered_at or self.clock.now()  # kept by a call released and adopted again
        await self.moves.submit((call.attempt_id, AttemptStatus.IN_PROGRESS))
        try:
            await _again_after_resync(lambda: line.rest(lambda a: a.answer(call.channel_id)))
            if whole is not None:
                with contextlib.suppress(Resynced):  # reconnected meanwhile: the call goes unrecorded
                    await whole.start()
            if self.options.amd_context and not await self._human(line):
                await line.hang_up()
                return self._result(CallStatus.MACHINE)
            await self._interview(line, player)
        except CallEnded:
            pass
        return self._result(CallStatus.ANSWERED)

    async def _answered(self, line: CallLine) -> bool:
        """Wait for StasisStart; False when the call ended unanswered (busy, no answer, ...)."""
        call = self.call
        deadline = line.deadline(call.ring_timeout_s + self.options.timing.answer_guard_s)
        while True:
            item = await line.next(deadline)
            if item is TIMEOUT:
                call.error, call.lost_cause = "Asterisk reported neither an answer nor an end", NO_REPORT
                await line.quietly(lambda a: a.hangup(call.channel_id))
                return False
            if isinstance(item, Resync):
                channel = item.live.get(call.channel_id)
                if channel is None:
                    call.error, call.lost_cause = "the channel ended while the ARI connection was down", CONNECTION_LOST
                    return False
                if channel["dialplan"]["app_name"] == "Stasis":  # its StasisStart was lost
                    return True
                continue
            assert isinstance(item, dict)
            if channel_of(item) != call.channel_id:
                continue
            if item["type"] == "StasisStart":
                return True
            if item["type"] == "ChannelStateChange" and item["channel"]["state"] == "Ringing":
                await self.moves.submit((call.attempt_id, AttemptStatus.RINGING))
            if line.ends_call(item):
                return False

    async def _human(self, line: CallLine) -> bool:
        """Send the answered channel through the dialplan's AMD() and read its verdict from the
        arguments it re-enters Stasis with: ``amd,<AMDSTATUS>,<AMDCAUSE>``. NOTSURE counts as a
        person: hanging up on a person is worse than talking to a machine."""
        call = self.call
        with contextlib.suppress(Resynced):  # reconnected: the channel may be in AMD already; wait for it
            await line.rest(lambda a: a.continue_in_dialplan(call.channel_id, self.options.amd_context))
        deadline = line.deadline(self.options.timing.amd_wait_s)
        while True:
            item = await line.next(deadline)
            if item is TIMEOUT:
                log.error("attempt %s: the channel did not come back from dialplan context %r; see docs/asterisk.md",
                          call.attempt_id, self.options.amd_context)
                call.amd_result = "TIMEOUT"
                await line.hang_up()
                raise CallEnded("AMD timed out")
            if isinstance(item, Resync):
                channel = item.live.get(call.channel_id)
                if channel is None:
                    line.resync(item)  # raises CallEnded
                if channel is None or channel["dialplan"]["app_name"] != "Stasis":
                    continue  # still in the AMD dialplan
                args = channel["dialplan"]["app_data"].split(",")[1:]
            elif isinstance(item, dict) and item["type"] == "StasisStart" and channel_of(item) == call.channel_id:
                args = list(item["args"])
            elif isinstance(item, dict) and item["type"] == "StasisEnd":
                continue  # the channel leaving for the dialplan
            elif line.ends_call(item):
                raise CallEnded("hung up during AMD")
            else:
                continue
            status = args[1] if len(args) > 1 and args[0] == "amd" else "NOTSURE"
            call.amd_result = ":".join(args[1:3])[:40] or status
            return status != "MACHINE"

    async def _interview(self, line: CallLine, player: StepPlayer) -> None:
        self.interview, turn = await self._db(self._answer)
        self._note(turn)
        current = turn.step  # the question being asked: a keep_playing step goes on collecting its entry
        while True:
            step = turn.step
            if not (step.collect or step.record or step.keep_playing):
                await self._final(line, player, step)
                return
            if not step.keep_playing:
                current = step
            try:
                event: Event = await player.input_step(step)
            except Resynced:  # reconnected: ask the question in progress again
                turn = replace(turn, step=current, callback_at=None)
                continue
            except CallEnded:
                event = HangUp()
            turn = await self._feed(event)
            if isinstance(event, HangUp):
                return

    def _answer(self) -> tuple[LiveCall, Turn]:
        return self.calls.answer(self.call.attempt_id, can_transfer=bool(self.options.operator_endpoint),
                                 recorded=self.options.record_calls)

    async def _feed(self, event: Event) -> Turn:
        """Feed ``event`` and store it, with the events of other calls (:mod:`calls.group_commit`),
        before the call acts on it. Meanwhile the call has no interview: one whose commit failed
        for good is left as last committed (resumable) and never fed again."""
        live, self.interview = self.interview, None
        assert live is not None
        retry = self.calls.retry.start()
        while True:
            try:
                turn = await self.group.submit((live, event))
                break
            except DBAPIError as exc:
                live = await self._db(self.calls.recover, live, exc, retry)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._db(self.calls.close, live)
                raise
        self.interview = live
        self._note(turn)
        return turn

    async def _final(self, line: CallLine, player: StepPlayer, step: Step) -> None:
        """The engine's last step: its prompts, then the operator or the hang-up."""
        while True:
            try:
                await player.until_played(await player.play(step.prompts))
                if step.transfer:
                    language = step.prompts[-1].language if step.prompts else "zh"
                    await OperatorBridge(self.options, self.registry).connect(line, player, language)
                await line.hang_up()
                return
            except Resynced:
                continue

    def _note(self, turn: Turn) -> None:
        self.call.reported_status = turn.reported_status
        self.call.callback_at = turn.callback_at or self.call.callback_at

    def _result(self, status: str) -> CallResult:
        call = self.call
        return CallResult(status=status, started_at=call.started_at, ended_at=self.clock.now(),
                          answered_at=call.answered_at, provider_call_id=call.channel_id,
                          amd_result=call.amd_result, hangup_cause=call.lost_cause if call.cause is None else str(call.cause),
                          interview_status=call.reported_status if status == CallStatus.ANSWERED else None,
                          callback_at=call.callback_at, error=call.error)

    async def _report(self, result: CallResult) -> None:
        log.info("attempt %s: %s%s", self.call.attempt_id, result.status,
                 f" ({result.interview_status})" if result.interview_status else "")
        try:
            await self._db(self.calls.finish, self.call.attempt_id, result)
        except Exception:
            log.exception("attempt %s: the result could not be stored: %s", self.call.attempt_id, result)

    async def _abandon(self, error: str, cause: str) -> None:
        """Hang up, tell the interview the line dropped, and report what is known."""
        call = self.call
        call.error, call.lost_cause = error, cause
        session = self.link.current
        if session is not None and not call.ended:
            with contextlib.suppress(AriError, AriUnavailable):
                await session.hangup(call.channel_id)
        if self.interview is not None:
            try:
                await self._feed(HangUp())
            except Exception:
                log.exception("attempt %s: the interview could not be closed", call.attempt_id)
        await self._report(self._result(CallStatus.ANSWERED if call.answered_at else CallStatus.UNKNOWN))

    async def _fetch_recordings(self, names: list[str]) -> None:
        """Copy this call's recordings from Asterisk into recordings_dir at once; those that fail
        are tried again by the app's later passes (:mod:`.recordings`)."""
        session = self.link.current
        if self.copier is None or not names or session is None:
            return
        report = await self.copier.run(session, names)
        if report.retrying:
            log.warning("attempt %s: %d recording(s) to copy again later", self.call.attempt_id, len(report.retrying))

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.db)


async def _again_after_resync(request: Callable[[], Awaitable[T]]) -> T:
    """A request that is safe to send again once the connection is back."""
    while True:
        try:
            return await request()
        except Resynced:
            continue

