"""Fieldwork settings: defaults, overrides, and clear errors for malformed JSON."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from dialer.policy import DialPolicy, PolicyError
from dialer.windows import TimeRange


def test_defaults_are_the_chinese_evening_and_weekend_windows() -> None:
    p = DialPolicy.parse()
    assert p.windows.timezone == "Asia/Shanghai"
    assert p.windows.weekday == (TimeRange(18 * 60 + 30, 21 * 60),)
    assert p.windows.weekend == (TimeRange(9 * 60, 21 * 60),)
    assert p.retry.rules["busy"].delay == timedelta(minutes=15)
    assert p.retry.rules["no_answer"].rotate == "least"
    assert p.pacing.trunks[0].lines == 10


def test_overrides_merge_with_defaults() -> None:
    p = DialPolicy.parse(
        timezone="Asia/Urumqi",
        calling_windows={"weekday": ["12:00-13:00", "18:00-24:00"], "days": {"fri": ["18:30-21:30"]},
                         "workdays": ["2026-10-10"], "callback": {"weekend_start": "09:30"}},
        holidays=["2026-10-01/2026-10-03", "2027-01-01"],
        retry_policy={"max_attempts": 5, "rules": {"busy": {"delay_minutes": 5}}},
        pacing={"trunks": [{"name": "a", "lines": 4, "cps": 1, "caller_ids": ["+862712340"]}, {"name": "b"}],
                "abandon": {"cap": 0.05}})
    assert p.windows.weekday == (TimeRange(720, 780), TimeRange(1080, 1440))
    assert p.windows.days == {4: (TimeRange(1110, 1290),)}
    assert p.windows.holidays == {date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3), date(2027, 1, 1)}
    assert p.windows.workdays == {date(2026, 10, 10)}
    assert p.windows.callback.weekend_start == 570
    assert p.windows.callback.evening_start == 18 * 60 + 30
    assert p.retry.max_attempts == 5 and p.retry.max_per_daypart == 3
    assert p.retry.rules["busy"].delay == timedelta(minutes=5) and p.retry.rules["busy"].rotate == "none"
    assert p.retry.rules["machine"].delay == timedelta(hours=1)
    assert [t.name for t in p.pacing.trunks] == ["a", "b"]
    assert p.pacing.trunks[0].caller_ids == ("+862712340",)
    assert p.pacing.abandon.cap == 0.05 and p.pacing.abandon.window == 200


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"calling_windows": {"weekdays": ["18:00-21:00"]}}, "calling_windows: unknown key(s) weekdays"),
    ({"calling_windows": {"weekday": ["18:00-17:00"]}}, "calling_windows.weekday[0]: '18:00-17:00' ends before"),
    ({"calling_windows": {"weekday": ["18:00-21:00", "20:00-22:00"]}}, "calling_windows.weekday: ranges overlap"),
    ({"calling_windows": {"weekday": ["25:00-26:00"]}}, "calling_windows.weekday[0]: no such time '25:00'"),
    ({"calling_windows": {"weekday": "18:00-21:00"}}, "calling_windows.weekday: expected a list"),
    ({"calling_windows": {"days": {"friday": []}}}, "calling_windows.days: unknown key(s) friday"),
    ({"holidays": ["2026-13-01"]}, "holidays[0]: expected a date YYYY-MM-DD"),
    ({"holidays": ["2026-10-07/2026-10-01"]}, "holidays[0]: '2026-10-07/2026-10-01' ends before it starts"),
    ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
    ({"retry_policy": {"max_attempts": 0}}, "retry_policy.max_attempts: expected a number >= 1"),
    ({"retry_policy": {"max_attempts": 2.5}}, "retry_policy.max_attempts: expected a whole number"),
    ({"retry_policy": {"rules": {"busy": {"rotate": "sometimes"}}}}, "retry_policy.rules.busy.rotate: expected one"),
    ({"retry_policy": {"rules": {"engaged": {}}}}, "retry_policy.rules: unknown key(s) engaged"),
    ({"retry_policy": {"dayparts": [{"name": "a", "hours": "09:00-12:00"}, {"name": "a", "hours": "12:00-13:00"}]}},
     "retry_policy.dayparts: day-part names must be unique"),
    ({"retry_policy": {"dayparts": [{"name": "a"}]}}, "retry_policy.dayparts[0]: a day-part needs a name and hours"),
    ({"pacing": {"trunks": [{"lines": "ten"}]}}, "pacing.trunks[0].lines: expected a number >= 1"),
    ({"pacing": {"trunks": [{"caller_ids": [12340]}]}}, "pacing.trunks[0].caller_ids: expected a list of numbers"),
    ({"pacing": {"caller_id_health": {"auto_rotate": "yes"}}}, "pacing.caller_id_health.auto_rotate: expected true"),
    ({"pacing": []}, "pacing: expected an object"),
])
def test_malformed_settings_name_the_key(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as err:
        DialPolicy.parse(**kwargs)
    assert str(err.value).startswith(message)
