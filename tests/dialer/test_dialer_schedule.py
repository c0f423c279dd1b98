"""Calling windows, day-parts, the retry ladder and callback times (pure functions)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.policy import DialPolicy, RetryRule
from dialer.schedule import CaseHistory, ScheduleError, callback_time, clamp_to_window, next_attempt
from survey.clock import from_local, to_local

POLICY = DialPolicy.parse(holidays=["2026-11-04"], calling_windows={"workdays": ["2026-11-08"]})
CAL = POLICY.calendar


def utc(text: str) -> datetime:
    """A Shanghai wall time as naive UTC."""
    return from_local(datetime.fromisoformat(text), "Asia/Shanghai")


def test_windows_follow_local_time_weekends_holidays_and_workdays() -> None:
    assert CAL.is_open(utc("2026-11-02 18:30"))  # Monday evening
    assert not CAL.is_open(utc("2026-11-02 18:29"))
    assert not CAL.is_open(utc("2026-11-02 21:00"))
    assert CAL.is_open(utc("2026-11-07 09:00"))  # Saturday morning
    assert not CAL.is_open(utc("2026-11-04 19:00"))  # holiday
    assert not CAL.is_open(utc("2026-11-08 10:00"))  # a Sunday worked as a weekday (调休)
    assert CAL.is_open(utc("2026-11-08 19:00"))
    assert CAL.next_open(utc("2026-11-03 21:00")) == utc("2026-11-05 18:30")  # skips the holiday
    assert CAL.window_end(utc("2026-11-02 19:00")) == utc("2026-11-02 21:00")
    assert CAL.window_end(utc("2026-11-02 22:00")) is None


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["Asia/Shanghai", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]),
       st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)))
def test_local_time_is_the_zones_on_every_day_transitions_too(zone: str, when: datetime) -> None:
    """The calendar keeps a day's offset when it holds all day: the same wall time (and fold, in
    the hour a clock change repeats) as converting each time, either side of a change."""
    calendar = DialPolicy.parse(timezone=zone).calendar
    for instant in (when, *CHANGES.get(zone, ())):
        for near in (instant - timedelta(microseconds=1), instant, instant + timedelta(hours=1)):
            expected = to_local(near, zone).replace(tzinfo=None)
            got = calendar.local(near)
            assert (got, got.fold) == (expected, expected.fold)


CHANGES = {  # clock changes in UTC: New York's autumn change repeats 01:00-02:00 local
    "America/New_York": (datetime(2026, 3, 8, 7), datetime(2026, 11, 1, 6)),
    "Australia/Lord_Howe": (datetime(2026, 4, 4, 15), datetime(2026, 10, 3, 15, 30)),
}


def test_dayparts_split_the_windows() -> None:
    assert CAL.daypart(utc("2026-11-02 18:40")) == "wd_early"
    assert CAL.daypart(utc("2026-11-02 20:00")) == "wd_late"
    assert CAL.daypart(utc("2026-11-07 11:00")) == "we_morning"
    assert CAL.daypart(utc("2026-11-08 19:00")) == "wd_early"  # the workday Sunday
    slots = list(CAL.slots(utc("2026-11-02 19:00"), 0))
    assert [(s.daypart, s.start, s.end) for s in slots] == [
        ("wd_early", utc("2026-11-02 19:00"), utc("2026-11-02 19:45")),
        ("wd_late", utc("2026-11-02 19:45"), utc("2026-11-02 21:00"))]


def test_ladder_uses_the_rule_delay_and_rotation() -> None:
    after = utc("2026-11-02 18:40")
    busy = next_attempt(POLICY, POLICY.retry.rules["busy"], after, CaseHistory(1, Counter(wd_early=1)))
    assert busy == utc("2026-11-02 18:55")
    machine = next_attempt(POLICY, POLICY.retry.rules["machine"], after,
                           CaseHistory(1, Counter(wd_early=1), last_daypart="wd_early"))
    assert machine == utc("2026-11-02 19:45")  # the next day-part
    no_answer = next_attempt(POLICY, POLICY.retry.rules["no_answer"], after,
                             CaseHistory(2, Counter(wd_early=1, wd_late=1), last_daypart="wd_early"))
    assert no_answer == utc("2026-11-07 09:00")  # the least tried day-part: the weekend


def test_ladder_respects_caps() -> None:
    rule = RetryRule(timedelta(minutes=15))
    after = utc("2026-11-02 18:40")
    assert next_attempt(POLICY, rule, after, CaseHistory(8)) is None
    today = date(2026, 11, 2)
    full_day = CaseHistory(3, Counter(wd_early=3), Counter({today: 3}))
    assert next_attempt(POLICY, rule, after, full_day) == utc("2026-11-03 19:45")  # wd_early is used up too
    spent = CaseHistory(7, Counter({p.name: 3 for p in POLICY.retry.dayparts}))
    assert next_attempt(POLICY, rule, after, spent) is None


def test_callback_choices_land_inside_windows() -> None:
    monday_noon = utc("2026-11-02 12:00")
    assert callback_time("this_evening", monday_noon, POLICY) == utc("2026-11-02 18:30")
    assert callback_time("this_evening", utc("2026-11-02 20:00"), POLICY) == utc("2026-11-02 20:10")
    assert callback_time("this_evening", utc("2026-11-02 20:55"), POLICY) == utc("2026-11-03 18:30")
    assert callback_time("tomorrow_evening", utc("2026-11-03 19:00"), POLICY) == utc("2026-11-05 18:30")  # holiday
    assert callback_time("weekend", monday_noon, POLICY) == utc("2026-11-07 10:00")
    assert callback_time("weekend", utc("2026-11-07 11:00"), POLICY) == utc("2026-11-14 10:00")  # Sun 8th works
    with pytest.raises(ScheduleError):
        callback_time("next_week", monday_noon, POLICY)


def test_no_window_at_all_is_an_error() -> None:
    closed = DialPolicy.parse(calling_windows={"weekday": [], "weekend": []})
    with pytest.raises(ScheduleError):
        clamp_to_window(closed, utc("2026-11-02 12:00"))


instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31))


@settings(max_examples=200, deadline=None)
@given(instants, st.sampled_from(sorted(POLICY.retry.rules)), st.integers(0, 7),
       st.sampled_from([p.name for p in POLICY.retry.dayparts]))
def test_every_retry_is_inside_a_window_and_after_its_delay(after: datetime, rule: str, done: int, last: str) -> None:
    when = next_attempt(POLICY, POLICY.retry.rules[rule], after, CaseHistory(done, Counter({last: 1}),
                                                                              last_daypart=last))
    assert when is not None
    assert CAL.is_open(when)
    assert when >= after + POLICY.retry.rules[rule].delay


@settings(max_examples=200, deadline=None)
@given(instants, st.sampled_from(["this_evening", "tomorrow_evening", "weekend"]))
def test_every_callback_is_inside_a_window_and_ahead(now: datetime, choice: str) -> None:
    when = callback_time(choice, now, POLICY)
    assert CAL.is_open(when)
    assert when >= now + POLICY.windows.callback.min_lead


@settings(max_examples=200, deadline=None)
@given(instants, st.sampled_from(["none", "next", "least"]),
       st.dictionaries(st.sampled_from([p.name for p in POLICY.retry.dayparts]), st.integers(0, 2)))
def test_the_ladder_picks_what_the_rules_say_over_all_open_slots(after: datetime, rotate: str,
                                                                 tried: dict[str, int]) -> None:
    history = CaseHistory(0, Counter(tried), last_daypart=next(iter(tried), None))  # (the total cap: above)
    slots = [s for s in CAL.slots(after, POLICY.retry.horizon_days)
             if tried.get(s.daypart, 0) < POLICY.retry.max_per_daypart]
    expected = {"none": slots[0],
                "next": next((s for s in slots if s.daypart != history.last_daypart), slots[0]),
                "least": min(slots, key=lambda s: (tried.get(s.daypart, 0), s.start))}[rotate]
    assert next_attempt(POLICY, RetryRule(timedelta(0), rotate), after, history) == expected.start
