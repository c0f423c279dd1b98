"""A channel failing call after call stops the round instead of burning the sample.

Every call the channel fails (:attr:`dialer.protocol.CallResult.channel_failed`) is held back,
its attempt still open and its case still leased. A call that goes through ends the streak: the
failures held are then settled as usual, as the troubles of single calls. ``limit`` failures in
a row trip it: the dialer withdraws the calls held (no attempt counted, no disposition written,
the cases back in the queue) and stops.
"""

from __future__ import annotations

from dialer.attempts import Dial
from dialer.protocol import CallResult

Failed = tuple[Dial, CallResult]


class Streak:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the limit of channel failures in a row must be at least 1, not {limit}")
        self.limit = limit
        self.count = 0
        self.last_error: str | None = None
        self._held: list[Failed] = []

    def fail(self, dial: Dial, result: CallResult) -> bool:
        """Hold a failed call; True when this one trips the limit."""
        self.count += 1
        self.last_error = result.error
        self._held.append((dial, result))
        return self.count >= self.limit

    def broken(self) -> list[Failed]:
        """A call went through: the streak ends, and the failures held are to be settled."""
        self.count = 0
        return self.take()

    def take(self) -> list[Failed]:
        """The failures held (the streak keeps counting): to settle them before their leases
        could expire, or to withdraw them when the limit is tripped."""
        held, self._held = self._held, []
        return held
