"""The same scenarios on every channel (simulated, Twilio, Asterisk) and on the staff console,
and the same rows afterwards: each scenario has one expected snapshot (``scenario_model``),
written once, which every channel's rows must equal once normalised.

Most cases run on SQLite; the lost connection runs on PostgreSQL too, where the backend is
really terminated in the middle of the interview.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from scenario_bench import Bench
from scenario_drivers import Driver
from scenario_faults import LostConnection
from scenario_model import CALLBACK_AT, SCENARIOS, Scenario, snapshot

from dialer.policy import DialPolicy


def _cases() -> list[object]:
    cases: list[object] = []
    for scenario in SCENARIOS:
        for channel in scenario.channels:
            name = f"{scenario.name}-{channel}"
            cases.append(pytest.param(scenario, channel, "sqlite", id=name))
            if scenario.lose_connection and not scenario.calls[0].hang_up:
                cases.append(pytest.param(scenario, channel, "postgresql", id=f"{name}-postgresql",
                                          marks=pytest.mark.postgres))
    return cases


@pytest.mark.parametrize(("scenario", "channel", "db_url"), _cases(), indirect=["db_url"])
def test_every_channel_leaves_the_same_rows(scenario: Scenario, channel: str, bench: Bench,
                                           request: pytest.FixtureRequest) -> None:
    driver: Driver = request.getfixturevalue(f"{channel}_driver")
    fault = LostConnection(bench.engine, at=driver.fault_at(scenario)) if scenario.lose_connection else None
    try:
        for i, call in enumerate(scenario.calls):
            if i:
                bench.clock.advance(timedelta(minutes=1))  # the dialer calls again later
            driver.play(call, duplicate=scenario.duplicate)
    finally:
        if fault is not None:
            fault.remove()

    with bench.sessions() as s:
        got = snapshot(s, bench.ids(driver.harness_tasks))
    assert got == scenario.expected

    if got.case.callback_at is not None:
        assert got.case.callback_at == CALLBACK_AT and DialPolicy().calendar.is_open(got.case.callback_at)
    if fault is not None:  # the connection really was lost, and the channel got over it
        assert fault.fired == 1 and any(e.connection_invalidated for e in fault.errors), fault.errors
        assert driver.recoveries >= 1
