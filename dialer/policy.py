"""Fieldwork rules of a survey, parsed from its JSON columns into typed, validated dataclasses.

Every key is optional; what a survey leaves out takes the default shown here. Unknown keys are
errors (a typo must not silently fall back to a default). Times are local wall times in
``Survey.timezone``; ``"24:00"`` may end a range; a range never crosses midnight.

``Survey.calling_windows``::

    {"weekday": ["18:30-21:00"],            # Mon-Fri
     "weekend": ["09:00-21:00"],            # Sat, Sun
     "days": {"fri": ["18:30-21:30"]},      # optional per-weekday override
     "workdays": ["2026-10-10"],            # weekend dates worked as weekdays (调休)
     "callback": {"evening_start": "18:30", "weekend_start": "10:00", "min_lead_minutes": 10}}

``Survey.holidays``: ``["2026-10-01/2026-10-07", "2027-01-01"]`` - no call on these local dates.

``Survey.retry_policy``::

    {"max_attempts": 8,           # per case
     "max_per_daypart": 3,        # per case and day-part over the whole field period
     "max_per_day": 3,            # per case and local date
     "callback_grace": 2,         # extra attempts a resident's or staff callback may use
     "horizon_days": 14,          # how far ahead a retry is looked for
     "release_open_per_remaining": 8,   # next replicate once all released numbers were dialled
                                        # and open cases < 8 x remaining quota
     "staff_partials": true,              # a partial out of attempts goes to staff to finish in CATI
     "refusal_conversion_hours": 48,      # a soft refusal out of attempts goes to staff this much
                                          # later for one conversion call (null: never)
     "rules": {"busy": {"delay_minutes": 15, "rotate": "none"}, ...},   # see RULE_KEYS
     "dayparts": [{"name": "wd_early", "days": "weekday", "hours": "18:00-19:45"}, ...]}

``rotate`` is ``none`` (earliest open time after the delay), ``next`` (earliest time in a
different day-part than the last attempt) or ``least`` (earliest time in the day-part this case
was tried least often: day-part rotation).

``Survey.pacing``::

    {"trunks": [{"name": "main", "lines": 10, "cps": 2.0, "caller_ids": ["+862712340"]}],
     "ring_timeout_s": 30, "lease_seconds": 1800, "batch_size": 50, "stratum_overdial": 10,
     "abandon": {"cap": 0.03, "window": 200},
     "backoff": {"initial_s": 5, "max_s": 300},
     "caller_id_health": {"window": 300, "min_attempts": 50, "flag_ratio": 0.6, "auto_rotate": true}}

Lines and calls per second are per worker process: with several workers give each its share.
Caller IDs are E.164 numbers, each on one trunk; a trunk's calls take them in turn, leaving out
those flagged for a low answer rate when ``auto_rotate`` (``dialer/callerid.py``).

A fieldwork file (``minyi survey settings``, docs/formats.md) holds all of these, plus ``timezone``
and ``quotas`` (completes wanted per township code, kept on ``Stratum.quota``): :func:`parse_fieldwork`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.windows import CallbackPolicy, CallingCalendar, Daypart, TimeRange, WindowPolicy
from survey.errors import Refused
from survey.models import Survey


class PolicyError(Refused):
    """A survey's fieldwork settings are malformed; the message names the offending key (``%(key)s``)."""


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ROTATIONS = ("none", "next", "least")
DAY_KINDS = ("weekday", "weekend", "all")
E164 = re.compile(r"\+[1-9]\d{6,14}")  # a caller ID
# Retry-rule keys: dialer.outcomes names the rule each outcome uses.
RULE_KEYS = ("busy", "no_answer", "machine", "failed", "unknown", "partial", "hangup")


@dataclass(frozen=True)
class RetryRule:
    delay: timedelta
    rotate: str = "none"


DEFAULT_RULES: Mapping[str, RetryRule] = {
    "busy": RetryRule(timedelta(minutes=15), "none"),
    "no_answer": RetryRule(timedelta(hours=3), "least"),
    "machine": RetryRule(timedelta(hours=1), "next"),
    "failed": RetryRule(timedelta(minutes=30), "none"),
    "unknown": RetryRule(timedelta(minutes=10), "none"),
    "partial": RetryRule(timedelta(hours=1), "next"),
    "hangup": RetryRule(timedelta(days=1), "least"),
}

REFUSAL_CONVERSION_HOURS = 48.0  # a day for the resident to cool off, and a day of other calls

DEFAULT_DAYPARTS: tuple[Daypart, ...] = (
    Daypart("wd_daytime", "weekday", TimeRange(0, 18 * 60)),
    Daypart("wd_early", "weekday", TimeRange(18 * 60, 19 * 60 + 45)),
    Daypart("wd_late", "weekday", TimeRange(19 * 60 + 45, 24 * 60)),
    Daypart("we_morning", "weekend", TimeRange(0, 12 * 60)),
    Daypart("we_afternoon", "weekend", TimeRange(12 * 60, 18 * 60)),
    Daypart("we_evening", "weekend", TimeRange(18 * 60, 24 * 60)),
)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    max_per_daypart: int = 3
    max_per_day: int = 3
    callback_grace: int = 2
    horizon_days: int = 14
    release_open_per_remaining: float = 8.0
    staff_partials: bool = True
    refusal_conversion_hours: float | None = REFUSAL_CONVERSION_HOURS  # None: no refusal conversion
    rules: Mapping[str, RetryRule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    dayparts: tuple[Daypart, ...] = DEFAULT_DAYPARTS


@dataclass(frozen=True)
class Trunk:
    name: str = "main"
    lines: int = 10
    cps: float = 2.0
    caller_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AbandonPolicy:
    cap: float = 0.03
    window: int = 200


@dataclass(frozen=True)
class BackoffPolicy:
    initial_s: float = 5.0
    max_s: float = 300.0


@dataclass(frozen=True)
class CallerIdHealth:
    window: int = 300
    min_attempts: int = 50
    flag_ratio: float = 0.6
    auto_rotate: bool = True


@dataclass(frozen=True)
class PacingPolicy:
    trunks: tuple[Trunk, ...] = (Trunk(),)
    ring_timeout_s: int = 30
    lease_seconds: float = 1800.0
    batch_size: int = 50
    stratum_overdial: float = 10.0
    abandon: AbandonPolicy = AbandonPolicy()
    backoff: BackoffPolicy = BackoffPolicy()
    caller_id_health: CallerIdHealth = CallerIdHealth()


@dataclass(frozen=True)
class DialPolicy:
    windows: WindowPolicy = WindowPolicy()
    retry: RetryPolicy = RetryPolicy()
    pacing: PacingPolicy = PacingPolicy()

    @cached_property
    def calendar(self) -> CallingCalendar:
        """The survey's calling calendar (windows, holidays, day-parts), built once per policy."""
        return CallingCalendar(self.windows, self.retry.dayparts)

    @classmethod
    def from_survey(cls, survey: Survey) -> DialPolicy:
        return cls.parse(timezone=survey.timezone or "Asia/Shanghai", calling_windows=survey.calling_windows,
                         holidays=survey.holidays, retry_policy=survey.retry_policy, pacing=survey.pacing)

    @classmethod
    def parse(cls, *, timezone: str = "Asia/Shanghai", calling_windows: Mapping[str, Any] | None = None,
              holidays: list[Any] | None = None, retry_policy: Mapping[str, Any] | None = None,
              pacing: Mapping[str, Any] | None = None) -> DialPolicy:
        return cls(windows=parse_windows({} if calling_windows is None else calling_windows,
                                         [] if holidays is None else holidays, timezone),
                   retry=parse_retry({} if retry_policy is None else retry_policy),
                   pacing=parse_pacing({} if pacing is None else pacing))


class _Reader:
    """Reads typed values from one JSON object and rejects keys nobody asked for."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise PolicyError("%(key)s: expected an object, got %(kind)s", key=path, kind=type(data).__name__)
        self.data, self.path, self.seen = data, path, set[str]()

    def has(self, key: str) -> bool:
        self.seen.add(key)
        return key in self.data

    def raw(self, key: str) -> Any:
        self.seen.add(key)
        return self.data[key]

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def number(self, key: str, default: float, minimum: float = 0.0) -> float:
        if not self.has(key):
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise PolicyError("%(key)s: expected a number >= %(minimum)s, got %(value)r", key=self.at(key), minimum=f"{minimum:g}", value=value)
        return float(value)

    def integer(self, key: str, default: int, minimum: int = 0) -> int:
        value = self.number(key, default, minimum)
        if value != int(value):
            raise PolicyError("%(key)s: expected a whole number, got %(value)r", key=self.at(key), value=self.data[key])
        return int(value)

    def flag(self, key: str, default: bool) -> bool:
        if not self.has(key):
            return default
        if not isinstance(self.data[key], bool):
            raise PolicyError("%(key)s: expected true or false, got %(value)r", key=self.at(key), value=self.data[key])
        return bool(self.data[key])

    def choice(self, key: str, default: str, options: tuple[str, ...]) -> str:
        if not self.has(key):
            return default
        if self.data[key] not in options:
            raise PolicyError("%(key)s: expected one of %(options)s, got %(value)r", key=self.at(key), options=", ".join(options),
                              value=self.data[key])
        return str(self.data[key])

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise PolicyError("%(key)s: unknown key(s) %(keys)s", key=self.path, keys=", ".join(map(str, unknown)))


def parse_clock(text: Any, path: str, *, allow_24: bool = False) -> int:
    """``"HH:MM"`` as minutes after midnight."""
    try:
        hours, minutes = str(text).split(":")
        h, m = int(hours), int(minutes)
    except ValueError:
        raise PolicyError("%(key)s: expected a time HH:MM, got %(value)r", key=path, value=text) from None
    if (h, m) == (24, 0) and allow_24:
        return 24 * 60
    if not (0 <= h < 24 and 0 <= m < 60):
        raise PolicyError("%(key)s: no such time %(value)r", key=path, value=text)
    return h * 60 + m


def parse_range(text: Any, path: str) -> TimeRange:
    """``"18:30-21:00"``; the end may be ``24:00``; ranges never cross midnight."""
    parts = str(text).split("-")
    if len(parts) != 2:
        raise PolicyError("%(key)s: expected a range HH:MM-HH:MM, got %(value)r", key=path, value=text)
    start, end = parse_clock(parts[0], path), parse_clock(parts[1], path, allow_24=True)
    if start >= end:
        raise PolicyError("%(key)s: %(value)r ends before it starts (split a range that crosses midnight)", key=path, value=text)
    return TimeRange(start, end)


def _ranges(value: Any, path: str) -> tuple[TimeRange, ...]:
    if not isinstance(value, list):
        raise PolicyError("%(key)s: expected a list of ranges like [\"18:30-21:00\"], got %(value)r", key=path, value=value)
    ranges = sorted(parse_range(v, f"{path}[{i}]") for i, v in enumerate(value))
    for a, b in zip(ranges, ranges[1:], strict=False):
        if b.start < a.end:
            raise PolicyError("%(key)s: ranges overlap", key=path)
    return tuple(ranges)


def _date(text: Any, path: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise PolicyError("%(key)s: expected a date YYYY-MM-DD, got %(value)r", key=path, value=text) from None


def parse_dates(values: Any, path: str) -> frozenset[date]:
    """ISO dates and inclusive ranges ``"2026-10-01/2026-10-07"``."""
    if not isinstance(values, list):
        raise PolicyError("%(key)s: expected a list of dates, got %(value)r", key=path, value=values)
    days: set[date] = set()
    for i, value in enumerate(values):
        first, _, last = str(value).partition("/")
        start = _date(first, f"{path}[{i}]")
        end = _date(last, f"{path}[{i}]") if last else start
        if end < start:
            raise PolicyError("%(key)s: %(value)r ends before it starts", key=f"{path}[{i}]", value=value)
        days.update(start + timedelta(days=n) for n in range((end - start).days + 1))
    return frozenset(days)


def parse_windows(data: Mapping[str, Any], holidays: list[Any], timezone: str) -> WindowPolicy:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError("%(key)s: unknown time zone %(value)r", key="timezone", value=timezone) from None
    r = _Reader(data, "calling_windows")
    base = WindowPolicy()
    weekday = _ranges(r.raw("weekday"), r.at("weekday")) if r.has("weekday") else base.weekday
    weekend = _ranges(r.raw("weekend"), r.at("weekend")) if r.has("weekend") else base.weekend
    days: dict[int, tuple[TimeRange, ...]] = {}
    if r.has("days"):
        d = _Reader(r.raw("days"), r.at("days"))
        for index, name in enumerate(WEEKDAYS):
            if d.has(name):
                days[index] = _ranges(d.raw(name), d.at(name))
        d.done()
    workdays = parse_dates(r.raw("workdays"), r.at("workdays")) if r.has("workdays") else frozenset()
    callback = _callback_policy(r.raw("callback"), r.at("callback")) if r.has("callback") else CallbackPolicy()
    r.done()
    return WindowPolicy(timezone=timezone, weekday=weekday, weekend=weekend, days=days, workdays=workdays,
                        holidays=parse_dates(holidays, "holidays"), callback=callback)


def _callback_policy(data: Any, path: str) -> CallbackPolicy:
    r = _Reader(data, path)
    base = CallbackPolicy()
    policy = CallbackPolicy(
        evening_start=parse_clock(r.raw("evening_start"), r.at("evening_start"))
        if r.has("evening_start") else base.evening_start,
        weekend_start=parse_clock(r.raw("weekend_start"), r.at("weekend_start"))
        if r.has("weekend_start") else base.weekend_start,
        min_lead=timedelta(minutes=r.number("min_lead_minutes", base.min_lead.total_seconds() / 60)),
    )
    r.done()
    return policy


def parse_retry(data: Mapping[str, Any]) -> RetryPolicy:
    r = _Reader(data, "retry_policy")
    base = RetryPolicy()
    rules = dict(DEFAULT_RULES)
    if r.has("rules"):
        rr = _Reader(r.raw("rules"), r.at("rules"))
        for key in RULE_KEYS:
            if rr.has(key):
                rules[key] = _rule(rr.raw(key), rr.at(key), DEFAULT_RULES[key])
        rr.done()
    dayparts = _dayparts(r.raw("dayparts"), r.at("dayparts")) if r.has("dayparts") else base.dayparts
    policy = RetryPolicy(
        max_attempts=r.integer("max_attempts", base.max_attempts, 1),
        max_per_daypart=r.integer("max_per_daypart", base.max_per_daypart, 1),
        max_per_day=r.integer("max_per_day", base.max_per_day, 1),
        callback_grace=r.integer("callback_grace", base.callback_grace),
        horizon_days=r.integer("horizon_days", base.horizon_days, 1),
        release_open_per_remaining=r.number("release_open_per_remaining", base.release_open_per_remaining),
        staff_partials=r.flag("staff_partials", base.staff_partials),
        refusal_conversion_hours=_optional_hours(r, "refusal_conversion_hours", REFUSAL_CONVERSION_HOURS),
        rules=rules, dayparts=dayparts)
    r.done()
    return policy


def _optional_hours(r: _Reader, key: str, default: float) -> float | None:
    """A number of hours, or null to turn off what it times."""
    if r.has(key) and r.raw(key) is None:
        return None
    return r.number(key, default)


def _rule(data: Any, path: str, default: RetryRule) -> RetryRule:
    r = _Reader(data, path)
    rule = RetryRule(delay=timedelta(minutes=r.number("delay_minutes", default.delay.total_seconds() / 60)),
                     rotate=r.choice("rotate", default.rotate, ROTATIONS))
    r.done()
    return rule


def _dayparts(value: Any, path: str) -> tuple[Daypart, ...]:
    if not isinstance(value, list) or not value:
        raise PolicyError("%(key)s: expected a non-empty list of day-parts", key=path)
    parts = []
    for i, item in enumerate(value):
        r = _Reader(item, f"{path}[{i}]")
        if not r.has("name") or not r.has("hours"):
            raise PolicyError("%(key)s: a day-part needs a name and hours", key=f"{path}[{i}]")
        parts.append(Daypart(str(r.raw("name")), r.choice("days", "all", DAY_KINDS),
                             parse_range(r.raw("hours"), r.at("hours"))))
        r.done()
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise PolicyError("%(key)s: day-part names must be unique", key=path)
    return tuple(parts)


def parse_pacing(data: Mapping[str, Any]) -> PacingPolicy:
    r = _Reader(data, "pacing")
    base = PacingPolicy()
    trunks = _trunks(r.raw("trunks"), r.at("trunks")) if r.has("trunks") else base.trunks
    abandon = base.abandon
    if r.has("abandon"):
        a = _Reader(r.raw("abandon"), r.at("abandon"))
        abandon = AbandonPolicy(cap=a.number("cap", base.abandon.cap),
                                window=a.integer("window", base.abandon.window, 1))
        a.done()
    backoff = base.backoff
    if r.has("backoff"):
        b = _Reader(r.raw("backoff"), r.at("backoff"))
        backoff = BackoffPolicy(initial_s=b.number("initial_s", base.backoff.initial_s),
                                max_s=b.number("max_s", base.backoff.max_s))
        b.done()
    health = base.caller_id_health
    if r.has("caller_id_health"):
        h = _Reader(r.raw("caller_id_health"), r.at("caller_id_health"))
        health = CallerIdHealth(window=h.integer("window", health.window, 1),
                                min_attempts=h.integer("min_attempts", health.min_attempts, 1),
                                flag_ratio=h.number("flag_ratio", health.flag_ratio),
                                auto_rotate=h.flag("auto_rotate", health.auto_rotate))
        h.done()
    policy = PacingPolicy(
        trunks=trunks, ring_timeout_s=r.integer("ring_timeout_s", base.ring_timeout_s, 1),
        lease_seconds=r.number("lease_seconds", base.lease_seconds, 1.0),
        batch_size=r.integer("batch_size", base.batch_size, 1),
        stratum_overdial=r.number("stratum_overdial", base.stratum_overdial, 1.0),
        abandon=abandon, backoff=backoff, caller_id_health=health)
    r.done()
    return policy


def _trunks(value: Any, path: str) -> tuple[Trunk, ...]:
    if not isinstance(value, list) or not value:
        raise PolicyError("%(key)s: expected a non-empty list of trunks", key=path)
    trunks = []
    for i, item in enumerate(value):
        r = _Reader(item, f"{path}[{i}]")
        ids = _caller_ids(r.raw("caller_ids"), r.at("caller_ids")) if r.has("caller_ids") else ()
        trunks.append(Trunk(name=str(r.raw("name")) if r.has("name") else f"trunk{i + 1}",
                            lines=r.integer("lines", Trunk.lines, 1), cps=r.number("cps", Trunk.cps, 0.01),
                            caller_ids=ids))
        r.done()
    if len({t.name for t in trunks}) != len(trunks):
        raise PolicyError("%(key)s: trunk names must be unique", key=path)
    every_id = [n for t in trunks for n in t.caller_ids]
    if len(set(every_id)) != len(every_id):
        raise PolicyError("%(key)s: a caller ID is listed twice", key=path)
    return tuple(trunks)


def _caller_ids(value: Any, path: str) -> tuple[str, ...]:
    """Numbers in E.164 form; the dialer takes them in turn on their trunk (``CallerIdPool``)."""
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise PolicyError("%(key)s: expected a list of numbers as strings", key=path)
    for i, number in enumerate(value):
        if not E164.fullmatch(number):
            raise PolicyError("%(key)s: %(value)r is not a number in E.164 form, like \"+862712345678\"",
                              key=f"{path}[{i}]", value=number)
    return tuple(value)


def parse_quotas(data: Any, townships: Collection[str]) -> dict[str, int]:
    """Completes wanted per township code (a township left out keeps its quota)."""
    r = _Reader({str(k): v for k, v in data.items()} if isinstance(data, Mapping) else data, "quotas")
    quotas = {code: r.integer(code, 0) for code in townships if r.has(code)}
    unknown = sorted(set(r.data) - set(townships))
    if unknown:
        raise PolicyError("%(key)s: %(codes)s not a township of this survey (its townships: %(known)s)",
                          key="quotas", codes=", ".join(unknown), known=", ".join(sorted(townships)))
    return quotas


@dataclass(frozen=True)
class Fieldwork:
    """A survey's whole fieldwork settings, as one file gives them (docs/formats.md)."""

    policy: DialPolicy
    quotas: Mapping[str, int]


def parse_fieldwork(data: Any, townships: Collection[str]) -> Fieldwork:
    """Every key of a fieldwork file, checked; the first problem raises :class:`PolicyError`."""
    r = _Reader(data, "settings")
    timezone = r.raw("timezone") if r.has("timezone") else "Asia/Shanghai"
    if not isinstance(timezone, str):
        raise PolicyError("%(key)s: unknown time zone %(value)r", key="timezone", value=timezone)
    policy = DialPolicy.parse(
        timezone=timezone, calling_windows=r.raw("calling_windows") if r.has("calling_windows") else None,
        holidays=r.raw("holidays") if r.has("holidays") else None,
        retry_policy=r.raw("retry_policy") if r.has("retry_policy") else None,
        pacing=r.raw("pacing") if r.has("pacing") else None)
    quotas = parse_quotas(r.raw("quotas"), townships) if r.has("quotas") else {}
    r.done()
    return Fieldwork(policy, quotas)
