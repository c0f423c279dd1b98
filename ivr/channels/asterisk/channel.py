"""The dialer's :class:`~ivr.channels.base.Channel` for Asterisk (``minyi dial --channel asterisk``).

By default the Stasis app runs inside the channel, on an event loop in a thread of its own:
``place_call`` originates and returns None, and the app applies the call's result
(``dialer.outcomes.apply_result``) when it ends. With ``serve=False`` the calls are left to a
``minyi ari`` process on the same Asterisk: ``place_call`` only originates into that app (which
adopts the channel by its id), and ``lines_in_use`` counts this dialer's attempts still without a
result.

    with AsteriskChannel(settings, sessions) as channel:
        run_worker(sessions, channel, clock, vault, options)
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager, ExitStack
from types import TracebackType

from anyio.from_thread import BlockingPortal, start_blocking_portal
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr.channels.asterisk.app import AriApp, originate, refused
from ivr.channels.asterisk.ari import AriConfig, AriError, AriSession, AriUnavailable, connect
from ivr.channels.asterisk.calls import channel_id_for
from ivr.channels.asterisk.options import AsteriskOptions
from ivr.channels.base import CallRequest, CallResult
from survey.clock import Clock, SystemClock
from survey.config import Settings
from survey.models import AttemptStatus, CallAttempt


def ari_config(settings: Settings) -> AriConfig:
    return AriConfig(settings.ari_url, settings.ari_username, settings.ari_password, settings.ari_app)


class AsteriskChannel:
    name = "asterisk"

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], clock: Clock | None = None, *,
                 serve: bool = True, options: AsteriskOptions | None = None, drain_s: float = 900.0) -> None:
        self.config = ari_config(settings)
        self.options = options or AsteriskOptions.from_settings(settings)
        self.sessions, self.clock, self.drain_s = sessions, clock or SystemClock(), drain_s
        self.app = AriApp(self.config, self.options, sessions, self.clock) if serve else None
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None
        self._serving: Future[None] | None = None
        self._remote: _Originator | None = None
        self._placed: set[int] = set()

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> AsteriskChannel:
        self._portal = self._stack.enter_context(start_blocking_portal())
        if self.app is not None:
            self._serving, _ = self._portal.start_task(self.app.serve)
        else:
            self._remote = _Originator(self.config, self.options, self.clock)
            self._stack.enter_context(self._portal.wrap_async_context_manager(self._remote))
        return self

    def close(self, drain_s: float = 0.0) -> None:
        """Stop, after waiting up to ``drain_s`` for the calls in progress to end; calls still
        running then are hung up and reported."""
        end = time.monotonic() + drain_s
        while self.app is not None and self.lines_in_use() and time.monotonic() < end:
            time.sleep(0.1)
        if self._serving is not None:
            self._serving.cancel()  # calls still running are hung up and reported
        self._stack.close()
        self._portal = None

    def __enter__(self) -> AsteriskChannel:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close(0.0 if kind else self.drain_s)

    # -- the Channel protocol ---------------------------------------------------------------

    def place_call(self, request: CallRequest) -> CallResult | None:
        if self._portal is None:
            raise RuntimeError("AsteriskChannel.start() first (or use it as a context manager)")
        if self.app is not None:
            return self._portal.call(self.app.place_call, request)
        assert self._remote is not None
        result = self._portal.call(self._remote.originate, request)
        if result is None:
            self._placed.add(request.attempt_id)
        return result

    def lines_in_use(self) -> int:
        if self.app is not None:
            return self.app.lines_in_use()
        if not self._placed:
            return 0
        with self.sessions() as s:
            open_ids = set(s.scalars(select(CallAttempt.id).where(
                CallAttempt.id.in_(self._placed), CallAttempt.status.not_in(AttemptStatus.ENDED))))
        self._placed &= open_ids
        return len(self._placed)


class _Originator(AbstractAsyncContextManager["_Originator"]):
    """REST only: originate into the app that a ``minyi ari`` process serves."""

    def __init__(self, config: AriConfig, options: AsteriskOptions, clock: Clock) -> None:
        self.config, self.options, self.clock = config, options, clock
        self._session: AriSession | None = None
        self._context: AbstractAsyncContextManager[AriSession] | None = None

    async def originate(self, request: CallRequest) -> CallResult | None:
        started = self.clock.now()
        try:
            session = await self._connected()
            if not await session.registered():
                raise AriUnavailable(f"no process serves the Stasis app {self.config.app!r}: start `minyi ari`")
            await originate(session, request, self.options, channel_id_for(request.attempt_id))
        except AriError as exc:
            return refused(request, started, self.clock.now(), exc)
        except AriUnavailable:
            await self.__aexit__()  # connect afresh next time
            raise
        return None

    async def _connected(self) -> AriSession:
        if self._session is None:
            self._context = connect(self.config, events=False)
            self._session = await self._context.__aenter__()
        return self._session

    async def __aexit__(self, *exc: object) -> None:
        context, self._context, self._session = self._context, None, None
        if context is not None:
            await context.__aexit__(None, None, None)
