"""The Stasis app: the connection supervisor, the event handler and a runner per call, wired
together. ``minyi ari`` serves it on its own; :class:`~ivr.channels.asterisk.channel.AsteriskChannel`
runs it inside the dialer."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

import anyio
from anyio.abc import TaskGroup, TaskStatus
from sqlalchemy.orm import Session, sessionmaker

from calls.group_commit import GroupCommit
from calls.service import CallService
from calls.staff_lines import StaffCallEvents
from dialer.protocol import CallRequest, CallResult
from ivr.channels.asterisk.ari import AriConfig, AriError, AriSession, AriUnavailable
from ivr.channels.asterisk.calls import Call, CallRegistry
from ivr.channels.asterisk.options import AsteriskOptions, endpoint_for, formats_for
from ivr.channels.asterisk.recordings import RecordingCopier
from ivr.channels.asterisk.runner import CallRunner
from ivr.channels.asterisk.staff_bridge import StaffBridge
from ivr.channels.asterisk.staff_legs import LISTEN, STAFF, STAFF_RING_S, leg_of
from ivr.channels.asterisk.stasis import StasisHandler
from ivr.channels.asterisk.supervisor import Supervisor
from survey.clock import Clock
from survey.phones import PhoneVault
from survey.vocabulary import CallStatus

log = logging.getLogger(__name__)


class AriApp:
    def __init__(self, config: AriConfig, options: AsteriskOptions, sessions: sessionmaker[Session],
                 clock: Clock, *, vault: PhoneVault | None = None) -> None:
        """``vault``: the phone keys, to dial the residents of staff-placed calls (without them a
        staff call that enters the app is hung up)."""
        self.config, self.options, self.clock, self.vault = config, options, clock, vault
        self.registry = CallRegistry()
        self.calls = CallService(sessions, clock)
        self.staff_events = StaffCallEvents(sessions, clock)
        self._staff_calls: dict[int, Call] = {}  # by staff call id
        self.handler = StasisHandler(self.registry, self._start, clock.now, others=self._staff_leg)
        self.supervisor = Supervisor(config, self.handler.on_event, self.handler.on_connect, options.timing,
                                     on_replaced=self.handler.release)
        self.copier = (RecordingCopier(sessions, clock, options.recordings_dir, options.recording_deletion,
                                       options.server) if options.recordings_dir is not None else None)
        self._tasks: TaskGroup | None = None
        self._db = anyio.CapacityLimiter(options.db_threads)
        at_once = batches_at_once(sessions)
        self.keys = GroupCommit(self.calls.handle_together, parallel=at_once)  # every call's keys, stored together
        self.moves = GroupCommit(self.calls.progress_together, parallel=at_once)  # and their attempts' progress

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled: stay connected, run every call to its end, and bring home the
        recordings whose copy failed."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            tasks.start_soon(self.keys.run)
            tasks.start_soon(self.moves.run)
            tasks.start_soon(self.supervisor.run)
            if self.copier is not None:
                tasks.start_soon(self._recordings_home, self.copier)
            task_status.started()

    async def _recordings_home(self, copier: RecordingCopier) -> None:
        """Every ``recordings_pass_s``, while connected and holding the app: a pass of the copier.
        A pass that fails is logged; the next tries again."""
        while True:
            await anyio.sleep(self.options.timing.recordings_pass_s)
            session = self.supervisor.current
            if session is None or self.supervisor.standing_by:
                continue
            try:
                report = await copier.run(session)
            except Exception:  # the app must keep serving its calls: the log is where it shows
                log.exception("bringing Asterisk's recordings home failed")
                continue
            if report.stored or report.deleted or report.failed:
                log.info("Asterisk recordings: %d stored, %d deleted at Asterisk, %d failed for good, %d to try "
                         "again", report.stored, report.deleted, len(report.failed), len(report.retrying))

    async def place_call(self, request: CallRequest) -> CallResult | None:
        """Originate once the events WebSocket is up; None: the result comes when the call ends.
        A refused originate (bad endpoint, Asterisk out of channels) is a FAILED result at once;
        no connection within ``connect_wait_s`` raises AriUnavailable (the dialer backs off)."""
        call = Call(request.attempt_id, self.clock.now(), request.ring_timeout_s, caller_id=request.caller_id)
        self.registry.add(call)  # before originating: its first events may come before the reply
        try:
            await self._originate(call, request)
        except AriError as exc:
            self.registry.remove(call)
            return refused(request, call.started_at, self.clock.now(), exc)
        except BaseException:
            self.registry.remove(call)
            raise
        call.placed = True
        self._start(call)
        return None

    async def _originate(self, call: Call, request: CallRequest) -> None:
        """One originate; when the connection fails under it, once more on the next connection.
        The channel id is ours, so a 409 on the second try means the first one got through."""
        failed: AriSession | None = None
        while True:
            session = await self.supervisor.session(self.options.timing.connect_wait_s, not_this=failed)
            try:
                await originate(session, request, self.options, call.channel_id)
                return
            except AriUnavailable:
                if failed is not None:
                    raise
                failed = session
                await self.supervisor.restart(session)
            except AriError as exc:
                if failed is not None and exc.status == 409:
                    return
                raise

    def lines_in_use(self) -> int:
        return len(self.registry)

    def _staff_leg(self, channel_id: str) -> Call | None:
        """A staff member's phone answering a staff call starts it (:mod:`.staff_bridge`); a
        supervisor's phone joins the staff call it listens in on (hung up if that call is over)."""
        leg = leg_of(channel_id)
        if leg is None or self._tasks is None:
            return None
        kind, staff_call_id = leg
        if kind == STAFF:
            call = Call(staff_call_id, self.clock.now(), STAFF_RING_S, channel_id=channel_id, placed=True)
            self.registry.add(call)
            self._staff_calls[staff_call_id] = call
            bridge = StaffBridge(call, self.supervisor, self.staff_events, self.options, self.vault, self.registry,
                                 on_end=self._staff_call_ended, copier=self.copier)
            self._tasks.start_soon(bridge.run, name=f"staff-call-{staff_call_id}")
            return call
        held = self._staff_calls.get(staff_call_id)
        if kind == LISTEN and held is not None:
            self.registry.alias(held, channel_id)
            return held
        if kind == LISTEN:
            self._tasks.start_soon(self._hang_up, channel_id)
        return None

    def _staff_call_ended(self, call: Call) -> None:
        self._staff_calls.pop(call.attempt_id, None)
        self.handler.ended(call)

    async def _hang_up(self, channel_id: str) -> None:
        session = self.supervisor.current
        if session is not None:
            with contextlib.suppress(AriError, AriUnavailable):
                await session.hangup(channel_id)

    def _start(self, call: Call) -> None:
        assert self._tasks is not None, "serve() is not running"
        runner = CallRunner(call, self.supervisor, self.calls, self.options, self.clock, self.registry,
                            on_end=self.handler.ended, copier=self.copier, db=self._db, group=self.keys,
                            moves=self.moves)
        self._tasks.start_soon(runner.run, name=f"call-{call.attempt_id}")


def batches_at_once(sessions: sessionmaker[Session]) -> int:
    """How many group-commit batches run side by side: 4 on a database server, whose round trips
    they overlap; 1 on SQLite, which writes one transaction at a time - batches side by side only
    queued for the write turn, each a thread hand-off and a share of the GIL taken from the event
    loop, where one batch takes in every key waiting (bench_ari, 500 calls, two rounds at load
    9-13: 14-20 keys a transaction instead of 8, 1.5-1.6 instead of 1.7-1.9 ms of CPU a key, issue 22)."""
    bind = sessions.kw.get("bind")
    return 1 if bind is not None and bind.dialect.name == "sqlite" else 4


async def originate(session: AriSession, request: CallRequest, options: AsteriskOptions, channel_id: str) -> None:
    """Dial ``request`` into the app: the attempt id is the Stasis argument, the ring timeout
    Asterisk's dial timeout; Local channels get ulaw."""
    endpoint = endpoint_for(options.endpoint, request.number)
    await session.originate(endpoint, channel_id=channel_id, app_args=str(request.attempt_id),
                            caller_id=request.caller_id, timeout_s=request.ring_timeout_s,
                            formats=formats_for(endpoint))


def refused(request: CallRequest, started: datetime, now: datetime, exc: AriError) -> CallResult:
    """A call Asterisk would not originate (bad endpoint, out of channels): failed at once."""
    log.warning("attempt %s: originate refused: %s", request.attempt_id, exc)
    return CallResult(CallStatus.FAILED, started, now, hangup_cause="originate_refused",
                      error=f"originate refused: {exc}")
