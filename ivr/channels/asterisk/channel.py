"""The dialer's :class:`~dialer.protocol.Channel` for Asterisk (``minyi dial --channel asterisk``).

By default the Stasis app runs inside the channel, on an event loop in a thread of its own:
``place_call`` originates and returns None, and the app applies the call's result
(``dialer.outcomes.apply_result``) when it ends. The dialer starts calls with ``start_call``
instead, up to ``overlap`` originates awaiting Asterisk's reply at once: one after another, a
reply of 20 ms under load held the dialer to a rate below what it was allowed (issue 22). With ``serve=False`` the calls are left to a
``minyi ari`` process on the same Asterisk: ``place_call`` only originates into that app (which
adopts the channel by its id), and ``lines_in_use`` counts this dialer's attempts still without a
result.

The channel starts on its first call, and when the process exits it waits (up to ``drain_s``)
for the calls still in progress, so a dialer that just builds it and lets go works. Closing it
explicitly, or using it as a context manager, does the same sooner::

    with AsteriskChannel(settings, sessions) as channel:
        run_worker(sessions, channel, clock, vault, options)
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager
from types import TracebackType

import anyio
from anyio.from_thread import BlockingPortal
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialer.protocol import CallRequest, CallResult, ChannelNotReady
from ivr.channels.asterisk.app import AriApp, originate, refused
from ivr.channels.asterisk.ari import AriConfig, AriError, AriSession, AriUnavailable, connect
from ivr.channels.asterisk.calls import channel_id_for
from ivr.channels.asterisk.options import AsteriskOptions
from survey.clock import Clock, SystemClock
from survey.config import Settings
from survey.models import CallAttempt
from survey.phones import configured_vault
from survey.vocabulary import ATTEMPT_ENDED

log = logging.getLogger(__name__)

# Originates awaiting Asterisk's reply at once: at 20-40 ms a reply, enough for 200 calls a second.
OVERLAP = 8


def ari_config(settings: Settings) -> AriConfig:
    return AriConfig(settings.ari_url, settings.ari_username, settings.ari_password, settings.ari_app)


class AsteriskChannel:
    name = "asterisk"

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], clock: Clock | None = None, *,
                 serve: bool = True, options: AsteriskOptions | None = None, drain_s: float = 900.0,
                 overlap: int = OVERLAP) -> None:
        if overlap < 1:
            raise ValueError(f"overlap must be at least 1 originate at a time, not {overlap}")
        self.overlap = overlap
        self.config = ari_config(settings)
        self.options = options or AsteriskOptions.from_settings(settings)
        self.sessions, self.clock, self.drain_s = sessions, clock or SystemClock(), drain_s
        self.app = AriApp(self.config, self.options, sessions, self.clock,
                          vault=configured_vault(settings)) if serve else None
        self._portal: BlockingPortal | None = None
        self._thread: threading.Thread | None = None
        self._serving: Future[None] | None = None
        self._remote: _Originator | None = None
        self._placed: set[int] = set()  # serve=False: attempts originated, their results not yet stored
        self._placed_lock = threading.Lock()  # added to on the event loop, pruned in the dialer's thread
        self._lock = threading.Lock()

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> AsteriskChannel:
        with self._lock:
            if self._portal is not None:
                return self
            handed: queue.Queue[BlockingPortal] = queue.Queue(1)
            # A daemon thread: a dialer that never closes the channel must still be able to exit.
            self._thread = threading.Thread(target=anyio.run, args=(_hold_portal, handed), name="minyi-ari",
                                            daemon=True)
            self._thread.start()
            portal = handed.get()
            if self.app is not None:
                self._serving, _ = portal.start_task(self.app.serve)
            else:
                self._remote = _Originator(self.config, self.options, self.clock)
            self._portal = portal
            atexit.register(self._at_exit)
        return self

    def close(self, drain_s: float = 0.0) -> None:
        """Stop, after waiting up to ``drain_s`` for the calls in progress to end; calls still
        running then are hung up and reported. With ``serve=False`` the calls are the serving
        process's: this waits up to ``drain_s`` for their results to be stored, and leaves those
        still running to it."""
        with self._lock:
            portal, self._portal = self._portal, None
            if portal is None:
                return
            atexit.unregister(self._at_exit)
        end = time.monotonic() + drain_s
        while self.lines_in_use() and time.monotonic() < end:  # serve=False: results stored by `minyi ari`
            time.sleep(0.1 if self.app is not None else 0.5)
        if self._serving is not None:
            self._serving.cancel()  # calls still running are hung up and reported
        if self._remote is not None:
            portal.call(self._remote.aclose)
        portal.call(portal.stop)
        assert self._thread is not None
        self._thread.join()

    def _at_exit(self) -> None:
        if self.lines_in_use():
            log.warning("waiting up to %.0f s for %d call(s) in progress", self.drain_s, self.lines_in_use())
        self.close(self.drain_s)

    def __enter__(self) -> AsteriskChannel:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close(0.0 if kind else self.drain_s)

    # -- the Channel protocol ---------------------------------------------------------------

    def preflight(self, survey_id: int) -> None:
        """ARI answers with these credentials and the Stasis app is registered: by this channel's
        own events connection, or (``serve=False``) by a ``minyi ari`` process. Refused, the
        channel is closed again."""
        portal = self._portal or self.start()._portal
        assert portal is not None
        try:
            portal.call(self._check)
        except (AriUnavailable, AriError) as exc:
            self.close()
            raise ChannelNotReady("Asterisk cannot carry the calls: %(error)s", error=str(exc)) from None

    async def _check(self) -> None:
        async with connect(self.config, events=False) as session:
            if self.app is not None:
                await self.app.supervisor.session(self.options.timing.connect_wait_s)
            if not await session.registered():
                raise AriUnavailable(f"no process serves the Stasis app {self.config.app!r}: start `minyi ari`")

    def place_call(self, request: CallRequest) -> CallResult | None:
        return self.start_call(request).result()

    def start_call(self, request: CallRequest) -> Future[CallResult | None]:
        """Originate on the channel's event loop; the future is done once Asterisk replied."""
        portal = self._portal or self.start()._portal
        assert portal is not None
        if self.app is not None:
            return portal.start_task_soon(self.app.place_call, request)
        return portal.start_task_soon(self._originate_remote, request)

    async def _originate_remote(self, request: CallRequest) -> CallResult | None:
        assert self._remote is not None
        result = await self._remote.originate(request)
        if result is None:
            with self._placed_lock:
                self._placed.add(request.attempt_id)
        return result

    def lines_in_use(self) -> int:
        if self.app is not None:
            return self.app.lines_in_use()
        with self._placed_lock:
            placed = set(self._placed)
        if not placed:
            return 0
        with self.sessions() as s:
            open_ids = set(s.scalars(select(CallAttempt.id).where(
                CallAttempt.id.in_(placed), CallAttempt.status.not_in(ATTEMPT_ENDED))))
        with self._placed_lock:
            self._placed -= placed - open_ids
            return len(self._placed)


async def _hold_portal(handed: queue.Queue[BlockingPortal]) -> None:
    """The channel thread's event loop: a portal for the dialer's thread, until stopped."""
    async with BlockingPortal() as portal:
        handed.put(portal)
        await portal.sleep_until_stopped()


class _Originator:
    """REST only: originate into the app that a ``minyi ari`` process serves."""

    def __init__(self, config: AriConfig, options: AsteriskOptions, clock: Clock) -> None:
        self.config, self.options, self.clock = config, options, clock
        self._session: AriSession | None = None
        self._context: AbstractAsyncContextManager[AriSession] | None = None
        self._connecting = anyio.Lock()  # originates overlap: one connection for them all

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
            await self.aclose()  # connect afresh next time
            raise
        return None

    async def _connected(self) -> AriSession:
        async with self._connecting:
            if self._session is None:
                context = connect(self.config, events=False)
                self._session = await context.__aenter__()
                self._context = context
            return self._session

    async def aclose(self) -> None:
        context, self._context, self._session = self._context, None, None
        if context is not None:
            await context.__aexit__(None, None, None)
