"""Clocks. Everything that waits or time-stamps takes one, so simulations run days in seconds.

All times are naive UTC ``datetime`` values, in the database too; local time (calling windows)
is derived with :func:`to_local`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(max(0.0, seconds))


class VirtualClock:
    """A clock that only moves when told to: ``sleep`` advances it instantly."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is not None:
            start = start.astimezone(UTC).replace(tzinfo=None)
        self._now = start

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(timedelta(seconds=max(0.0, seconds)))

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, when: datetime) -> None:
        if when < self._now:
            raise ValueError("a virtual clock never runs backwards")
        self._now = when


def to_local(utc_naive: datetime, tz: str) -> datetime:
    """A naive UTC time as an aware time in the zone ``tz``."""
    return utc_naive.replace(tzinfo=UTC).astimezone(ZoneInfo(tz))


def from_local(local: datetime, tz: str) -> datetime:
    """A local wall time in ``tz`` (naive or aware) as naive UTC."""
    aware = local if local.tzinfo else local.replace(tzinfo=ZoneInfo(tz))
    return aware.astimezone(UTC).replace(tzinfo=None)
