"""One call's line to Asterisk: REST requests on whatever ARI session is current, and the call's
inbox read with deadlines. Shared by the interview runner and the operator bridge.

A lost connection never loses a call: a request that fails for want of a connection waits for
the :class:`~ivr.channels.asterisk.calls.Resync` the app sends after reconnecting, then raises
:class:`Resynced` (the channel is still there: replay the current step) or :class:`CallEnded`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from ivr.channels.asterisk.ari import AriError, AriSession, AriUnavailable
from ivr.channels.asterisk.calls import Call, Item, Resync, channel_of
from ivr.channels.asterisk.causes import CONNECTION_LOST, cause_of, shutdown
from ivr.channels.asterisk.options import Timing

log = logging.getLogger(__name__)
T = TypeVar("T")
TIMEOUT = object()  # what next() returns when the deadline passes
NORMAL_CLEARING = 16  # the Q.850 cause of our own hang-ups


class CallEnded(Exception):
    """The resident's channel is gone (hung up, or no longer ours)."""


class Resynced(Exception):
    """Reconnected and the channel is still there; events of the outage are lost."""


class Link(Protocol):
    """The connection supervisor, as a call sees it."""

    @property
    def current(self) -> AriSession | None: ...

    async def restart(self, failed: AriSession) -> None: ...


class CallLine:
    def __init__(self, call: Call, link: Link, timing: Timing, tasks: TaskGroup) -> None:
        self.call, self.link, self.timing, self.tasks = call, link, timing, tasks

    @property
    def channel_id(self) -> str:
        return self.call.channel_id

    # -- requests ---------------------------------------------------------------------------

    async def rest(self, request: Callable[[AriSession], Awaitable[T]]) -> T:
        """One request about the resident's channel: 404/409 mean the channel is gone."""
        try:
            return await self._send(request)
        except AriError as exc:
            if exc.status in (404, 409):
                self.call.ended = True
                raise CallEnded(str(exc)) from None
            raise

    async def other(self, request: Callable[[AriSession], Awaitable[T]]) -> T:
        """A request about another channel of the call (a snoop channel): an error is its own, it
        says nothing of the resident's channel."""
        return await self._send(request)

    async def quietly(self, request: Callable[[AriSession], Awaitable[Any]]) -> None:
        """A request whose failure changes nothing: stopping a playback that just ended, hanging
        up a channel that is already gone, cleaning up a bridge."""
        try:
            await self._send(request, retry=False)
        except (AriError, AriUnavailable) as exc:
            log.debug("attempt %s: ignored: %s", self.call.attempt_id, exc)

    def spawn(self, request: Callable[[AriSession], Awaitable[Any]]) -> None:
        """Send ``request`` without waiting for it (see :meth:`quietly`)."""
        self.tasks.start_soon(self.quietly, request)

    async def _send(self, request: Callable[[AriSession], Awaitable[T]], *, retry: bool = True) -> T:
        session = self.link.current
        if session is not None:
            try:
                return await request(session)
            except AriUnavailable:
                if not retry:
                    raise
                await self.link.restart(session)  # a REST failure on a live socket: start afresh
        elif not retry:
            raise AriUnavailable("not connected")
        await self.await_resync()
        raise AssertionError("await_resync always raises")

    # -- events -----------------------------------------------------------------------------

    def deadline(self, call_seconds: float) -> float:
        return anyio.current_time() + self.timing.s(call_seconds)

    async def next(self, deadline: float | None) -> Item | object:
        """The next inbox item, or :data:`TIMEOUT` once ``deadline`` (loop time) has passed. An
        item already waiting is taken without a cancel scope (most are: events come in bursts)."""
        item = self.call.take()
        if item is None:
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time()) if deadline is not None else math.inf):
                item = await self.call.receive()
            if item is None:
                return TIMEOUT
        else:
            await anyio.lowlevel.checkpoint()  # a call with a full inbox lets the others run
        if isinstance(item, dict) and item["type"] in ("RecordingFinished", "RecordingFailed"):
            self.call.recordings_ended[str(item["recording"]["name"])] = item  # whoever waits for it
        return item

    def ends_call(self, item: Item | object) -> bool:
        """Whether ``item`` says the resident's channel is gone; notes the hang-up cause. A channel
        that entered Stasis from the dialplan may send StasisEnd and never ChannelDestroyed.

        A *soft* ChannelHangupRequest (``"soft": true``: ours, or Asterisk hanging up one half of a
        Local channel) carries Asterisk's soft-hangup flag as its ``cause`` (32, explicit), not a
        Q.850 cause. A Local channel whose other half ran Busy() ends with cause 0; the Dial
        event's ``dialstatus`` (BUSY) then tells what happened. As Asterisk stops or restarts, it
        hangs every channel up with the shutdown flag (4), and the call is ``connection_lost``."""
        if not isinstance(item, dict) or channel_of(item) != self.channel_id:
            return False
        kind = item["type"]
        if kind == "ChannelHangupRequest" and shutdown(item):
            self.call.lost_cause, self.call.error = CONNECTION_LOST, "Asterisk shut down during the call"
        if self.call.lost_cause != CONNECTION_LOST:  # after a shutdown, cause 0 and NOANSWER say nothing
            self._note_cause(item)
        if kind in ("StasisEnd", "ChannelDestroyed"):
            self.call.ended = True
        return self.call.ended

    def _note_cause(self, item: dict[str, Any]) -> None:
        kind = item["type"]
        if kind == "Dial" and item.get("dialstatus"):
            self.call.dial_status = str(item["dialstatus"])
        elif kind == "ChannelHangupRequest" and item.get("cause") is not None and not item.get("soft"):
            self.call.cause = int(item["cause"])
        elif kind == "ChannelDestroyed" and item.get("cause") is not None:
            cause = cause_of(int(item["cause"]), self.call.dial_status)
            self.call.cause = cause if cause or self.call.cause is None else self.call.cause

    def resync(self, item: Resync) -> None:
        """Raise what a Resync means for this call."""
        if self.channel_id not in item.live:
            self.call.ended = True
            self.call.error = self.call.error or "the channel ended while the ARI connection was down"
            self.call.lost_cause = CONNECTION_LOST
            raise CallEnded("channel gone after reconnect")
        self.call.settled = False
        raise Resynced()

    async def await_resync(self) -> None:
        """After a lost connection: wait for the app's Resync (or the end of the call)."""
        while True:
            item = await self.next(None)
            if isinstance(item, Resync):
                self.resync(item)
            if self.ends_call(item):
                raise CallEnded("channel gone")

    async def hang_up(self) -> None:
        """Hang up the resident and wait (briefly) until Asterisk confirms. Asterisk sends
        StasisEnd before ChannelDestroyed, so the cause may not have come yet: ours is 16,
        normal clearing (``reason=normal``)."""
        if self.call.ended:
            return
        await self.quietly(lambda a: a.hangup(self.channel_id))
        deadline = self.deadline(self.timing.end_wait_s)
        while not self.call.ended:
            item = await self.next(deadline)
            if item is TIMEOUT or (isinstance(item, Resync) and self.channel_id not in item.live):
                self.call.ended = True
            self.ends_call(item)
        if self.call.cause is None:
            self.call.cause = NORMAL_CLEARING
