"""The Stasis app: the connection supervisor, the event handler and a runner per call, wired
together. ``minyi ari`` serves it on its own; :class:`~ivr.channels.asterisk.channel.AsteriskChannel`
runs it inside the dialer."""

from __future__ import annotations

import logging
from datetime import datetime

import anyio
from anyio.abc import TaskGroup, TaskStatus
from sqlalchemy.orm import Session, sessionmaker

from calls.service import CallService
from dialer.protocol import CallRequest, CallResult
from ivr.channels.asterisk.ari import AriConfig, AriError, AriSession, AriUnavailable
from ivr.channels.asterisk.calls import Call, CallRegistry
from ivr.channels.asterisk.options import AsteriskOptions, endpoint_for, formats_for
from ivr.channels.asterisk.runner import CallRunner
from ivr.channels.asterisk.stasis import StasisHandler
from ivr.channels.asterisk.supervisor import Supervisor
from survey.clock import Clock
from survey.vocabulary import CallStatus

log = logging.getLogger(__name__)


class AriApp:
    def __init__(self, config: AriConfig, options: AsteriskOptions, sessions: sessionmaker[Session],
                 clock: Clock) -> None:
        self.config, self.options, self.clock = config, options, clock
        self.registry = CallRegistry()
        self.calls = CallService(sessions, clock)
        self.handler = StasisHandler(self.registry, self._start, clock.now)
        self.supervisor = Supervisor(config, self.handler.on_event, self.handler.on_connect, options.timing,
                                     on_replaced=self.handler.release)
        self._tasks: TaskGroup | None = None
        self._db = anyio.CapacityLimiter(options.db_threads)

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled: stay connected and run every call to its end."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            tasks.start_soon(self.supervisor.run)
            task_status.started()

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

    def _start(self, call: Call) -> None:
        assert self._tasks is not None, "serve() is not running"
        runner = CallRunner(call, self.supervisor, self.calls, self.options, self.clock, self.registry,
                            on_end=self.handler.ended, db=self._db)
        self._tasks.start_soon(runner.run, name=f"call-{call.attempt_id}")


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
