"""A channel that fails call after call stops the worker; its cases go back to the queue untouched."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from dialer_fakes import VAULT, OverlappingChannel, ScriptedChannel, Step, add_numbers, make_survey
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialer.protocol import CallRequest, Overlapping, Tidying
from dialer.worker import Stop, WorkerOptions, WorkerReport, run_worker
from survey import aapor
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import CallAttempt, Case
from survey.vocabulary import CallStatus, CaseStatus

REFUSED = Step(CallStatus.FAILED, seconds=1, error="Twilio error 20003: Authenticate")


def _failing_after(n: int, failure: Step) -> Callable[[CallRequest], Step]:
    """No answer for the first ``n`` calls, then ``failure`` for every call."""
    calls: list[CallRequest] = []

    def step(request: CallRequest) -> Step:
        calls.append(request)
        return Step(CallStatus.NO_ANSWER) if len(calls) <= n else failure

    return step


def _run(sessions: sessionmaker[Session], clock: VirtualClock, channel: ScriptedChannel,
         **kw: Any) -> WorkerReport:
    with session_scope(sessions) as s:
        add_numbers(s, make_survey(s, clock, quotas=(50,)), 20, clock.now())
    options = WorkerOptions(survey="S1", owner="w1", until=clock.now() + timedelta(days=2), **kw)
    return run_worker(sessions, channel, clock, VAULT, options)


@pytest.mark.parametrize("failure", [REFUSED, Step(fails=True)], ids=["failed result", "exception"])
def test_a_channel_failing_mid_round_stops_and_gives_the_cases_back(sessions: sessionmaker[Session],
                                                                      clock: VirtualClock, failure: Step) -> None:
    channel = ScriptedChannel(clock, default=_failing_after(3, failure))
    report = _run(sessions, clock, channel, lines=1, max_channel_failures=4)
    assert report.stop_reason == Stop.CHANNEL_FAILING
    assert report.placed == 7 and report.results == 3
    assert report.channel_error is not None and ("20003" in report.channel_error or "503" in report.channel_error)
    with session_scope(sessions) as s:
        assert set(s.scalars(select(CallAttempt.temp_disposition))) == {aapor.NO_ANSWER}
        assert s.scalar(select(func.sum(Case.attempts))) == 3
        assert s.scalar(select(func.count()).select_from(Case).where(Case.lease_owner.is_not(None))) == 0
        assert set(s.scalars(select(Case.status))) <= {CaseStatus.NEW, CaseStatus.SCHEDULED}
        assert s.scalar(select(func.count()).select_from(Case).where(Case.final_disposition.is_not(None))) == 0


@pytest.mark.parametrize(("kind", "lines"), [(ScriptedChannel, 1), (OverlappingChannel, 20)],
                         ids=["one at a time", "overlapping"])
def test_failures_between_calls_that_go_through_are_ordinary_failed_calls(sessions: sessionmaker[Session],
                                                                          clock: VirtualClock,
                                                                          kind: type[ScriptedChannel], lines: int) -> None:
    outcomes = iter([REFUSED, REFUSED, Step(CallStatus.NO_ANSWER)] * 100)
    channel = kind(clock, default=lambda _r: next(outcomes))
    report = _run(sessions, clock, channel, lines=lines, max_channel_failures=3, until_done=False)
    assert report.stop_reason == Stop.NOTHING_DUE and report.withdrawn == 0
    with session_scope(sessions) as s:
        codes = list(s.scalars(select(CallAttempt.temp_disposition)))
    assert len(codes) == 20 and codes.count(aapor.TECHNICAL) == 14


@pytest.mark.parametrize("failure", [REFUSED, Step(fails=True)], ids=["failed result", "exception"])
def test_calls_still_starting_when_the_streak_trips_are_given_back_too(sessions: sessionmaker[Session],
                                                                       clock: VirtualClock, failure: Step) -> None:
    """Three calls at a time: the failures started before the worker saw the fourth one in a row
    are withdrawn with it, the calls that went through are settled, and no case is called twice."""
    channel = OverlappingChannel(clock, default=_failing_after(3, failure))
    assert isinstance(channel, Overlapping)
    report = _run(sessions, clock, channel, lines=20, max_channel_failures=4)
    assert report.stop_reason == Stop.CHANNEL_FAILING
    assert 7 <= report.placed <= 7 + channel.overlap - 1 and report.results == 3  # 3 through, 4+ failed
    assert report.withdrawn == 20 - 3
    assert channel.most_unanswered > 1  # the calls did overlap
    assert len({c.request.number for c in channel.calls}) == len(channel.calls) == report.placed
    with session_scope(sessions) as s:
        assert set(s.scalars(select(CallAttempt.temp_disposition))) == {aapor.NO_ANSWER}
        assert s.scalar(select(func.sum(Case.attempts))) == 3
        assert s.scalar(select(func.count()).select_from(Case).where(Case.lease_owner.is_not(None))) == 0
        assert s.scalar(select(func.count()).select_from(Case).where(Case.final_disposition.is_not(None))) == 0


def test_a_channel_with_housekeeping_of_its_own_is_given_the_workers(sessions: sessionmaker[Session],
                                                                     clock: VirtualClock) -> None:
    class Tidy(ScriptedChannel):
        tidied: int = 0

        def housekeeping(self) -> None:
            self.tidied += 1

    channel = Tidy(clock)
    assert isinstance(channel, Tidying)
    _run(sessions, clock, channel, lines=1, housekeeping_every=timedelta(hours=1))
    assert channel.tidied >= 2  # at the start, and every hour of the round after
