"""Keeps one ARI connection up: connects, hands every event to the Stasis handler, and reconnects
with exponential back-off when the connection is lost. Whoever originates waits for
:meth:`Supervisor.session`, which returns only once the events WebSocket is up: an app that looks
registered after a reconnect may not be, and calls placed before it is would be lost."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import anyio

from ivr.channels.asterisk.ari import AriConfig, AriHttp, AriSession, AriUnavailable, connect
from ivr.channels.asterisk.options import Timing

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self, config: AriConfig, on_event: Callable[[dict[str, Any]], None],
                 on_connect: Callable[[AriSession], Coroutine[Any, Any, None]], timing: Timing) -> None:
        self.config, self.on_event, self.on_connect, self.timing = config, on_event, on_connect, timing
        self._session: AriSession | None = None
        self._up = anyio.Event()
        self.connections = 0  # how many times a connection came up

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
            raise AriUnavailable(f"no ARI connection to {_where(self.config.url)} within {wait_s:g} s")
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
        delay = self.timing.backoff_initial_s
        while True:
            try:
                async with connect(self.config, http) as session:
                    delay = self.timing.backoff_initial_s
                    await self._serve(session)
            except* AriUnavailable as lost:
                log.warning("ARI %s: %s; reconnecting in %.1f s", _where(self.config.url), lost.exceptions[0], delay)
            await anyio.sleep(delay)
            delay = min(delay * 2, self.timing.backoff_max_s)

    async def _serve(self, session: AriSession) -> None:
        self.connections += 1
        log.info("ARI connected to %s, app %r", _where(self.config.url), self.config.app)
        self._session = session
        self._up.set()
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self.on_connect, session)
                async for event in session.events():
                    self.on_event(event)
        finally:
            self._session = None
            self._up = anyio.Event()


def _where(url: str) -> str:
    """The server, without any user:password@ that a URL may carry."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.port else f"{parts.scheme}://{parts.hostname}"
