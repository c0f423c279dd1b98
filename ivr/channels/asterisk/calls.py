"""Calls in progress: what the app knows of each, and which channel belongs to which call.

Every event for a call's channels (the resident's, and an operator's while bridged) goes to the
call's inbox, a deque, unbounded, so the WebSocket reader never waits for a call; each call's one
task reads its own inbox in order (no task per event, no stream).
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio


@dataclass(frozen=True)
class Resync:
    """Sent to every call after a (re)connect: the channels Asterisk has now, by id. Events of
    the outage are lost, so a call re-checks its channel and replays its current step."""

    live: dict[str, dict[str, Any]]


Item = dict[str, Any] | Resync


def channel_id_for(attempt_id: int) -> str:
    """``minyi-<attempt id>-<random>``: every event of the channel names its attempt."""
    return f"minyi-{attempt_id}-{uuid.uuid4().hex[:16]}"


@dataclass(eq=False)
class Call:
    attempt_id: int
    started_at: datetime
    ring_timeout_s: int
    caller_id: str = ""
    channel_id: str = ""  # channel_id_for(attempt_id) unless given
    placed: bool = False  # Asterisk has acknowledged the channel (originate replied, or adopted)
    answered_at: datetime | None = None
    cause: int | None = None  # Q.850 hang-up cause, once known
    # The hang-up cause stored when Asterisk gave none: why the app lost or ended the call.
    lost_cause: str = "not_reported"
    dial_status: str | None = None  # the last Dial event's dialstatus (RINGING, BUSY, ANSWER, ...)
    amd_result: str | None = None
    reported_status: str | None = None
    callback_at: datetime | None = None
    ended: bool = False
    error: str | None = None
    # Let go, unreported, because another connection took the app (it, or this app once it
    # registers again, carries the call on); ``scope`` is the cancel scope of the call's task.
    released: bool = False
    # False from an adoption or a reconnect until the first prompt played since has started: a key
    # pressed before then answered a prompt of before (another process's, or one whose end was lost).
    settled: bool = True
    scope: anyio.CancelScope | None = None
    # each RecordingFinished/RecordingFailed event read from the inbox, by recording name
    recordings_ended: dict[str, dict[str, Any]] = field(default_factory=dict)
    _inbox: deque[Item] = field(default_factory=deque)
    _arrived: anyio.Event | None = None  # set by post() for the task waiting in receive()

    def __post_init__(self) -> None:
        self.channel_id = self.channel_id or channel_id_for(self.attempt_id)

    def post(self, item: Item) -> None:
        self._inbox.append(item)
        if self._arrived is not None:
            self._arrived.set()

    def take(self) -> Item | None:
        """The next item if one is waiting."""
        return self._inbox.popleft() if self._inbox else None

    async def receive(self) -> Item:
        """The next item, once there is one (the call's one task reads the inbox)."""
        while not self._inbox:
            if self._arrived is None or self._arrived.is_set():
                self._arrived = anyio.Event()
            await self._arrived.wait()
        return self._inbox.popleft()

    def release(self) -> None:
        """Stop following the call, leaving the channel as it is and reporting nothing."""
        self.released = True
        if self.scope is not None:
            self.scope.cancel()


class CallRegistry:
    def __init__(self) -> None:
        self._by_channel: dict[str, Call] = {}
        self._calls: set[Call] = set()

    def add(self, call: Call) -> None:
        self._calls.add(call)
        self._by_channel[call.channel_id] = call

    def alias(self, call: Call, channel_id: str) -> None:
        """Route another channel's events (an operator leg) to ``call``."""
        self._by_channel[channel_id] = call

    def remove(self, call: Call) -> None:
        self._calls.discard(call)
        for channel_id in [c for c, owner in self._by_channel.items() if owner is call]:
            del self._by_channel[channel_id]

    def get(self, channel_id: str) -> Call | None:
        return self._by_channel.get(channel_id)

    def calls(self) -> list[Call]:
        return list(self._calls)

    def __len__(self) -> int:
        return len(self._calls)


def channel_of(event: dict[str, Any]) -> str | None:
    """The channel an ARI event is about: its ``channel``, a Dial event's ``peer`` (the channel
    being dialled), or the ``channel:<id>`` target of a playback or recording. A recording of a
    bridge gives its whole target, ``bridge:<id>``: a call recording a bridge registers that as
    an alias (:meth:`CallRegistry.alias`) to receive the recording's events."""
    channel = event.get("channel") or (event.get("peer") if event.get("type") == "Dial" else None)
    if isinstance(channel, dict):
        return str(channel.get("id"))
    for key in ("playback", "recording"):
        target = event.get(key, {}).get("target_uri", "")
        if target.startswith("channel:"):
            return str(target[len("channel:"):])
        if target.startswith("bridge:"):
            return str(target)
    return None
