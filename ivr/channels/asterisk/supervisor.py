"""Keeps the app registered with Asterisk: connects, hands every event to the Stasis handler, and
registers again whenever the registration is lost. Whoever originates waits for
:meth:`Supervisor.session`, which returns only once the events WebSocket is up: an app that looks
registered after a reconnect may not be, and calls placed before it is would be lost.

How a registration is lost, and what the supervisor does (docs/asterisk.md, "Re-registration"):

- the connection drops or Asterisk restarts: the WebSocket ends (or stops answering pings);
  reconnect with exponential back-off;
- another connection opens the events WebSocket with the same app name: Asterisk gives it the
  app and sends this one ApplicationReplaced, after which this WebSocket hears nothing more. The
  app lets go of its calls (the new holder receives their events; a minyi process adopts them)
  and stands by, asking ``GET /applications/{app}`` every ``app_check_s``, until Asterisk no
  longer lists the app (its holder left and no channel of the app is left): then it registers
  again. Taking the app back at once would take it from a process that serves it, which would
  take it back in turn. A holder that left while calls were up leaves the app listed after the
  last call ends (Asterisk sweeps its registry lazily): while the app is listed without channels
  or bridges, the check has Asterisk sweep it (:func:`~ivr.channels.asterisk.ari.sweep_registry`);
- a check every ``app_check_s`` while connected finds the app gone from Asterisk: reconnect.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import anyio

from ivr.channels.asterisk.ari import (
    AriConfig,
    AriError,
    AriHttp,
    AriSession,
    AriUnavailable,
    connect,
    sweep_registry,
)
from ivr.channels.asterisk.options import Timing

log = logging.getLogger(__name__)


class Replaced(Exception):
    """Another connection took the app (ApplicationReplaced)."""


class Supervisor:
    def __init__(self, config: AriConfig, on_event: Callable[[dict[str, Any]], None],
                 on_connect: Callable[[AriSession], Coroutine[Any, Any, None]], timing: Timing,
                 on_replaced: Callable[[], None] = lambda: None) -> None:
        self.config, self.on_event, self.on_connect, self.timing = config, on_event, on_connect, timing
        self.on_replaced = on_replaced
        self._session: AriSession | None = None
        self._up = anyio.Event()
        self.connections = 0  # how many times a connection came up
        self.replaced = 0  # how many times another connection took the app
        self.standing_by = False  # another connection holds the app

    @property
    def current(self) -> AriSession | None:
        return self._session

    async def session(self, wait_s: float, *, not_this: AriSession | None = None) -> AriSession:
        """The live session (other than ``not_this``, one that just failed), waiting up to
        ``wait_s`` wall seconds for one."""
        with anyio.move_on_after(wait_s):
            while self._session is None or self._session is not_this:
                await self._up.wait()
                if self._session is not_this:
                    await anyio.sleep(0.01)
        if self._session is None or self._session is not_this:
            held = f"; another connection holds the app {self.config.app!r}" if self.standing_by else ""
            raise AriUnavailable(f"no ARI connection to {_where(self.config.url)} within {wait_s:g} s{held}")
        return self._session

    async def restart(self, failed: AriSession) -> None:
        """Drop the connection a request just failed on, so that the loop connects afresh (not
        the next one, if the loop got there first)."""
        if self._session is failed:
            await failed.close()

    async def run(self) -> None:
        http = AriHttp(self.config)  # shared by every session: requests in flight survive a reconnect
        try:
            await self._keep_connected(http)
        finally:
            with anyio.CancelScope(shield=True):
                await http.aclose()

    async def _keep_connected(self, http: AriHttp) -> None:
        await self._warn_if_held(http)
        delay = self.timing.backoff_initial_s
        while True:
            replaced = False
            try:
                async with connect(self.config, http) as session:
                    delay = self.timing.backoff_initial_s
                    await self._serve(session)
            except* Replaced:
                replaced = True
            except* AriUnavailable as lost:
                log.warning("ARI %s: %s; reconnecting in %.1f s", _where(self.config.url), lost.exceptions[0], delay)
            if replaced:
                delay = await self._stand_by(http, delay)
                continue
            await anyio.sleep(delay)
            delay = min(delay * 2, self.timing.backoff_max_s)

    async def _warn_if_held(self, http: AriHttp) -> None:
        """Before registering: an app Asterisk lists already is served by another process (which
        loses it to this one), or was left with calls by a process that stopped."""
        with contextlib.suppress(AriUnavailable):
            async with connect(self.config, http, events=False) as rest:
                if await _registered(rest):
                    log.warning("ARI %s: the app %r is registered already (by a `minyi ari`, or with the calls "
                                "of a process that stopped): this process takes it over; to leave the calls to a "
                                "running `minyi ari`, dial with --no-serve", _where(self.config.url), self.config.app)

    async def _serve(self, session: AriSession) -> None:
        self.connections += 1
        log.info("ARI connected to %s, app %r", _where(self.config.url), self.config.app)
        self._session = session
        self._up.set()
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self.on_connect, session)
                tasks.start_soon(self._check_registered, session)
                async for event in session.events():
                    if event.get("type") == "ApplicationReplaced":
                        raise Replaced()
                    self.on_event(event)
        finally:
            self._session = None
            self._up = anyio.Event()

    async def _check_registered(self, session: AriSession) -> None:
        """A backstop to the WebSocket's end and ApplicationReplaced: Asterisk must list the app."""
        while True:
            await anyio.sleep(self.timing.app_check_s)
            if not await _registered(session):
                raise AriUnavailable(f"Asterisk no longer lists the app {self.config.app!r}")

    async def _stand_by(self, http: AriHttp, delay: float) -> float:
        """Another connection took the app: let go of the calls, and wait until Asterisk lists the
        app no more (its holder has left) before registering again. Returns the next back-off."""
        self.replaced += 1
        self.standing_by = True
        log.warning("ARI %s: another connection took the app %r; its calls are left to it, and the app "
                    "registers again once that connection has let it go", _where(self.config.url), self.config.app)
        self.on_replaced()
        try:
            async with connect(self.config, http, events=False) as rest:
                while await self._held(rest):
                    await anyio.sleep(self.timing.app_check_s)
            log.info("ARI %s: the app %r is free again; registering", _where(self.config.url), self.config.app)
            return self.timing.backoff_initial_s
        except AriUnavailable as exc:
            log.warning("ARI %s: %s; reconnecting in %.1f s", _where(self.config.url), exc, delay)
            await anyio.sleep(delay)
            return min(delay * 2, self.timing.backoff_max_s)
        finally:
            self.standing_by = False


    async def _held(self, rest: AriSession) -> bool:
        """Whether another connection still holds the app: Asterisk lists it after a sweep."""
        try:
            application = await rest.application()
            if application is None or application.get("channel_ids") or application.get("bridge_ids"):
                return application is not None
            await sweep_registry(self.config, f"{self.config.app}-sweep-{uuid.uuid4().hex[:8]}")
            return await rest.registered()
        except AriError as exc:
            raise AriUnavailable(f"GET /applications: {exc}") from None


async def _registered(session: AriSession) -> bool:
    try:
        return await session.registered()
    except AriError as exc:  # refused (401, 500): as good as unreachable for this purpose
        raise AriUnavailable(f"GET /applications: {exc}") from None


def _where(url: str) -> str:
    """The server, without any user:password@ that a URL may carry."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.port else f"{parts.scheme}://{parts.hostname}"
