"""When to call a case next: the retry ladder with caps and day-part rotation, and callbacks.

Every time produced here lies inside a calling window (never on a holiday), so a retry or a
callback can never be what makes the dialer ring someone at the wrong hour.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import chain

from dialer.policy import DialPolicy, RetryRule
from dialer.windows import OTHER_DAYPART, CallingCalendar, Slot
from survey.errors import Refused

CALLBACK_CHOICES = ("this_evening", "tomorrow_evening", "weekend")


class ScheduleError(Refused):
    """A callback that cannot be placed (unknown choice, no calling window ahead)."""


@dataclass(frozen=True)
class CaseHistory:
    """What the ladder needs to know about a case's past attempts."""

    attempts: int = 0
    by_daypart: Counter[str] = field(default_factory=Counter)
    by_date: Counter[date] = field(default_factory=Counter)
    last_daypart: str | None = None


def next_attempt(policy: DialPolicy, rule: RetryRule, after: datetime, history: CaseHistory) -> datetime | None:
    """The next time to dial under ``rule``, or None when the case has used up its attempts
    (in total, or in every day-part and day reachable within the horizon)."""
    retry = policy.retry
    if history.attempts >= retry.max_attempts:
        return None
    earliest = after + rule.delay
    # Counter.get, not [ ]: a missing key costs Counter.__missing__, a Python call, per slot.
    per_part, per_date = history.by_daypart.get, history.by_date.get
    slots = (s for s in policy.calendar.slots(earliest, retry.horizon_days)  # in time order, made as needed
             if per_part(s.daypart, 0) < retry.max_per_daypart and per_date(s.local_date, 0) < retry.max_per_day)
    first = next(slots, None)
    if first is None:
        return None
    if rule.rotate == "next":
        other = first if first.daypart != history.last_daypart else next(
            (s for s in slots if s.daypart != history.last_daypart), None)
        return (other or first).start
    if rule.rotate == "least":
        return _least_tried(first, slots, history, policy.calendar).start
    return first.start


def _least_tried(first: Slot, rest: Iterator[Slot], history: CaseHistory, calendar: CallingCalendar) -> Slot:
    """The earliest slot in a day-part tried least often. The slots come in time order, so the
    first one in a day-part tried as seldom as any day-part is the answer, without the others."""
    tries = history.by_daypart.get
    fewest = min(tries(name, 0) for name in (*(d.name for d in calendar.dayparts), OTHER_DAYPART))
    best = first
    for slot in chain((first,), rest):
        tried = tries(slot.daypart, 0)
        if tried == fewest:
            return slot
        if tried < tries(best.daypart, 0):
            best = slot
    return best


def clamp_to_window(policy: DialPolicy, when: datetime) -> datetime:
    """``when`` if a window is open then, else the next window start."""
    start = policy.calendar.next_open(when)
    if start is None:
        raise ScheduleError("no calling window ahead: check the survey's calling windows and holidays")
    return start


def callback_time(choice: str, now: datetime, policy: DialPolicy) -> datetime:
    """A resident's callback choice in the IVR as a dialling time inside the calling windows.

    ``this_evening``: tonight from the evening start (or soon, if already evening);
    ``tomorrow_evening``: tomorrow from the evening start; ``weekend``: the next Saturday or Sunday
    from the weekend start (today's own weekend day does not count). A time that falls outside the
    windows (a weekday evening already over, a holiday) moves to the next window start.
    """
    cb = policy.windows.callback
    cal = policy.calendar
    earliest = now + cb.min_lead
    today = cal.local(now).date()
    if choice == "this_evening":
        target = max(earliest, cal.utc(today, cb.evening_start))
    elif choice == "tomorrow_evening":
        target = cal.utc(today + timedelta(days=1), cb.evening_start)
    elif choice == "weekend":
        target = _next_weekend_start(cal, today, cb.weekend_start)
    else:
        raise ScheduleError("unknown callback choice %(choice)r; expected one of %(choices)s", choice=choice,
                            choices=", ".join(CALLBACK_CHOICES))
    return clamp_to_window(policy, max(target, earliest))


def _next_weekend_start(cal: CallingCalendar, today: date, minute: int) -> datetime:
    for offset in range(1, 400):
        day = today + timedelta(days=offset)
        if cal.day_kind(day) == "weekend":
            return cal.utc(day, minute)
    raise ScheduleError("no weekend day ahead")

