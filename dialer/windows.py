"""When calls may be placed: calling windows in the respondent's local time, minus holidays.

Everything outside this module works in naive UTC; here UTC instants are turned into local wall
times of the survey's zone and back, so a window "18:30-21:00" means 18:30 where the phone rings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from survey.clock import from_local, to_local

_DAY = timedelta(days=1)


@dataclass(frozen=True, order=True)
class TimeRange:
    """A local time-of-day range in minutes after midnight, ``start < end <= 1440``."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end

    def intersect(self, other: TimeRange) -> TimeRange | None:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return TimeRange(start, end) if start < end else None


@dataclass(frozen=True)
class CallbackPolicy:
    evening_start: int = 18 * 60 + 30
    weekend_start: int = 10 * 60
    min_lead: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class WindowPolicy:
    timezone: str = "Asia/Shanghai"
    weekday: tuple[TimeRange, ...] = (TimeRange(18 * 60 + 30, 21 * 60),)
    weekend: tuple[TimeRange, ...] = (TimeRange(9 * 60, 21 * 60),)
    days: Mapping[int, tuple[TimeRange, ...]] = field(default_factory=dict)  # weekday index -> ranges
    workdays: frozenset[date] = frozenset()
    holidays: frozenset[date] = frozenset()
    callback: CallbackPolicy = CallbackPolicy()


@dataclass(frozen=True)
class Daypart:
    name: str
    days: str  # weekday / weekend / all
    hours: TimeRange


OTHER_DAYPART = "other"  # window time that no configured day-part covers


@dataclass(frozen=True)
class Slot:
    """An open stretch of calling time in one day-part, in naive UTC."""

    start: datetime
    end: datetime
    daypart: str
    local_date: date


class CallingCalendar:
    """Answers "may we call now?", "when next?" and "which day-part is this?" for one survey."""

    def __init__(self, policy: WindowPolicy, dayparts: tuple[Daypart, ...] = ()) -> None:
        self.policy = policy
        self.dayparts = dayparts
        self._cache: dict[tuple[date, bool], tuple[Slot, ...]] = {}
        self._zone = ZoneInfo(policy.timezone)
        self._offsets: dict[date, timedelta | None] = {}  # see local()
        # the day-parts of each kind of day (see day_kind), in their order
        self._parts = {kind: tuple(p for p in dayparts if p.days in (kind, "all"))
                       for kind in ("holiday", "weekday", "weekend")}

    def day_kind(self, day: date) -> str:
        """``holiday``, ``weekday`` or ``weekend``; make-up workdays (调休) count as weekdays."""
        if day in self.policy.holidays:
            return "holiday"
        if day in self.policy.workdays or day.weekday() < 5:
            return "weekday"
        return "weekend"

    def ranges_on(self, day: date) -> tuple[TimeRange, ...]:
        kind = self.day_kind(day)
        if kind == "holiday":
            return ()
        if day in self.policy.workdays:
            return self.policy.weekday
        if day.weekday() in self.policy.days:
            return self.policy.days[day.weekday()]
        return self.policy.weekday if kind == "weekday" else self.policy.weekend

    def local(self, utc: datetime) -> datetime:
        """``utc`` as a naive local time. A zone's conversion costs microseconds (the retry ladder
        converts every past attempt of a case at each retry), so the offset is kept per UTC day
        when the zone's offset holds from the day before through that day: the same answer."""
        day = utc.date()
        offset = self._offsets[day] if day in self._offsets else self._steady_offset(day)
        if offset is None:
            return to_local(utc, self.policy.timezone).replace(tzinfo=None)
        return utc + offset

    def _steady_offset(self, day: date) -> timedelta | None:
        """The zone's offset all through the UTC ``day`` and the day before (no transition then,
        so no repeated local hour either: looked at every hour, and at the day's last instant),
        else None; remembered."""
        start = datetime.combine(day, time(), UTC) - _DAY
        instants = [start + timedelta(hours=h) for h in range(48)] + [start + 2 * _DAY - timedelta(microseconds=1)]
        offsets = {t.astimezone(self._zone).utcoffset() for t in instants}
        offset = self._offsets[day] = offsets.pop() if len(offsets) == 1 else None
        return offset

    def utc(self, day: date, minute: int) -> datetime:
        return from_local(datetime.combine(day, time()) + timedelta(minutes=minute), self.policy.timezone)

    def is_open(self, utc: datetime) -> bool:
        local = self.local(utc)
        minute = local.hour * 60 + local.minute
        return any(r.contains(minute) for r in self.ranges_on(local.date()))

    def next_open(self, utc: datetime, horizon_days: int = 400) -> datetime | None:
        """``utc`` itself when a window is open, else the next window start (None if none ahead)."""
        for slot in self.slots(utc, horizon_days, split=False):
            return slot.start
        return None

    def window_end(self, utc: datetime) -> datetime | None:
        """The end of the window open at ``utc``, or None when closed."""
        for slot in self.slots(utc, 1, split=False):
            return slot.end if slot.start == utc else None
        return None

    def daypart(self, utc: datetime) -> str:
        return self.local_daypart(self.local(utc))

    def local_daypart(self, local: datetime) -> str:
        """:meth:`daypart` of a local time (from :meth:`local`)."""
        return self._daypart_at(local.date(), local.hour * 60 + local.minute)

    def _daypart_at(self, day: date, minute: int) -> str:
        for part in self._parts[self.day_kind(day)]:
            if part.hours.start <= minute < part.hours.end:
                return part.name
        return OTHER_DAYPART

    def slots(self, utc: datetime, days: int, *, split: bool = True) -> Iterator[Slot]:
        """Open stretches from ``utc`` on, for ``days`` local days, in time order; with ``split``
        each stretch lies in one day-part."""
        first = self.local(utc).date()
        for offset in range(days + 1):
            for slot in self._day(first + timedelta(days=offset), split):
                if slot.start >= utc:
                    yield slot  # frozen: the day's own slot, not a copy
                elif slot.end > utc:
                    yield Slot(utc, slot.end, slot.daypart, slot.local_date)

    def _day(self, day: date, split: bool) -> tuple[Slot, ...]:
        """A local day's open stretches in UTC (computed once per day: the retry ladder asks often)."""
        key = (day, split)
        if key not in self._cache:
            self._cache[key] = tuple(
                Slot(self.utc(day, piece.start), self.utc(day, piece.end), part, day)
                for window in self.ranges_on(day) for piece, part in self._pieces(day, window, split))
        return self._cache[key]

    def _pieces(self, day: date, window: TimeRange, split: bool) -> list[tuple[TimeRange, str]]:
        if not split:
            return [(window, "")]
        cuts = {window.start, window.end}
        for part in self._parts[self.day_kind(day)]:
            cuts.update(m for m in (part.hours.start, part.hours.end) if window.start < m < window.end)
        edges = sorted(cuts)
        return [(TimeRange(a, b), self._daypart_at(day, a)) for a, b in zip(edges, edges[1:], strict=False)]
