"""The Stasis event handler: every ARI event goes to the call whose channel it concerns, at once
and without waiting (a slow consumer would stall the one event queue of the app).

Channel ids carry the attempt: ``minyi-<attempt id>-<random>``. So a channel of this app that no
call here knows - originated by a dialer in another process, or in progress when this process
restarted - is adopted: a call is opened for its attempt and carries on from what the channel is
doing. Events of calls that are over are ignored, and so are channels of others (a Local
channel's second half, an operator leg that outlived its call).

When another connection takes the app, the calls are released: their tasks stop without hanging
up or reporting, and the handler remembers them. Once the app is registered again they are
adopted like any channel of the app - those still up carry on, those that ended meanwhile are
reported with the hang-up cause ``connection_lost`` (unless the holder of the app stored their
result first: a real result is never replaced).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ivr.channels.asterisk.ari import AriSession
from ivr.channels.asterisk.calls import Call, CallRegistry, Resync, channel_of

log = logging.getLogger(__name__)
_OURS = re.compile(r"minyi-(\d+)-[0-9a-f]+")
_REMEMBER_ENDED = 10_000


class StasisHandler:
    def __init__(self, registry: CallRegistry, start: Callable[[Call], None], now: Callable[[], datetime], *,
                 ring_timeout_s: int = 30, others: Callable[[str], Call | None] = lambda _channel_id: None) -> None:
        self.registry, self.start, self.now, self.ring_timeout_s = registry, start, now, ring_timeout_s
        self.others = others  # the call of a channel of ours that is no interview (a staff call's legs)
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._released: dict[str, Call] = {}  # by channel id: let go when another connection took the app
        self._adopted: list[Call] | None = None  # while on_connect reads the listing

    def ended(self, call: Call) -> None:
        """Remember a finished call's channel, so its late events do not adopt it again."""
        self._ended[call.channel_id] = None
        while len(self._ended) > _REMEMBER_ENDED:
            self._ended.popitem(last=False)

    def release(self) -> None:
        """Another connection holds the app: let go of every call (see the module's docstring)."""
        for call in self.registry.calls():
            self._released[call.channel_id] = call
            call.release()
        if self._released:
            log.warning("let go of %d call(s): their events go to the connection that took the app",
                        len(self._released))

    def on_event(self, event: dict[str, Any]) -> None:
        channel_id = channel_of(event)
        if channel_id is None:
            return
        call = self.registry.get(channel_id) or self._adopt(channel_id, event.get("channel"))
        if call is None and channel_id not in self._ended:
            call = self.others(channel_id)
        if call is not None:
            call.post(event)

    async def on_connect(self, session: AriSession) -> None:
        """After every (re)connect: tell each call which channels still exist, adopt ours that
        nobody follows. Ours are those the app is subscribed to: ``GET /channels`` lists every
        channel of the Asterisk, and another app's (``minyi-2`` beside ``minyi-1``, a test
        beside production) carry ids of the same form - adopting one would answer, play to and
        hang up a call that another process runs, and store its result against the attempt of
        the same number here."""
        known = [c for c in self.registry.calls() if c.placed]  # in the listing unless they ended
        self._adopted = []  # adopted by an event of theirs while the listing is read: told too
        try:
            live = {c["id"]: c for c in await session.channels()}
            mine = await session.app_channel_ids()
            known += self._adopted
        finally:
            self._adopted = None
        for channel_id, channel in live.items():
            if channel_id in mine and self.registry.get(channel_id) is None:
                adopted = self._adopt(channel_id, channel)
                known += [adopted] if adopted is not None else []  # told too: its StasisStart was long ago
        for channel_id in list(self._released):  # ended while another connection held the app
            adopted = self._adopt(channel_id, None) if self.registry.get(channel_id) is None else None
            known += [adopted] if adopted is not None else []
        self._released.clear()
        for call in known:
            call.post(Resync(live))

    def _adopt(self, channel_id: str, channel: Any) -> Call | None:
        m = _OURS.fullmatch(channel_id)
        if m is None or channel_id in self._ended:
            return None
        created = _utc(channel.get("creationtime")) if isinstance(channel, dict) else None
        before = self._released.pop(channel_id, None)
        call = Call(int(m.group(1)), created or self.now(), self.ring_timeout_s, channel_id=channel_id, placed=True,
                    settled=False)
        if before is not None:  # what this app knew of the call before letting it go
            call.started_at, call.answered_at = before.started_at, before.answered_at
        log.info("attempt %s: adopting channel %s", call.attempt_id, channel_id)
        if self._adopted is not None:
            self._adopted.append(call)
        self.registry.add(call)
        self.start(call)
        return call


def _utc(ari_time: str | None) -> datetime | None:
    """ARI's ``2026-11-02T18:30:00.123+0800`` as naive UTC."""
    if not ari_time:
        return None
    try:
        return datetime.strptime(ari_time, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC).replace(tzinfo=None)
    except ValueError:
        return None
