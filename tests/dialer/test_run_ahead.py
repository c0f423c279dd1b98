"""A virtual clock's worker leasing the cases falling due ahead (dialer/run_ahead.py) places the
same calls at the same moments, with the same outcomes and final states, as one leasing only what
is due - in far fewer statements."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest
from dialer_fakes import VAULT, ScriptedChannel, Step, add_numbers, answered, make_survey, random_outcomes
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from bench.campaign_rounds import START, fingerprint
from dialer.protocol import CallRequest
from dialer.worker import WorkerOptions, run_worker
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.vocabulary import InterviewStatus

PACING = {"pacing": {"trunks": [{"name": "main", "lines": 20, "cps": 5}, {"name": "spare", "lines": 5, "cps": 2}]}}


def _eventful(clock: VirtualClock, seed: int) -> Callable[[CallRequest], Step]:
    """The campaign mix, with callbacks asked for 12 minutes on, opt-outs and operator requests."""
    usual, rng = random_outcomes(seed, complete_share=0.2), random.Random(seed)

    def step(request: CallRequest) -> Step:
        r = rng.random()
        if r < 0.03:
            return answered(InterviewStatus.CALLBACK, 60, callback_at=clock.now() + timedelta(minutes=12))
        if r < 0.05:
            return answered(InterviewStatus.OPTED_OUT, 40)
        if r < 0.06:
            return answered(InterviewStatus.OPERATOR, 90)
        return usual(request)

    return step


def _campaign(sessions: sessionmaker[Session], engine: Engine, code: str, start: int, quotas: tuple[int, ...],
              eventful: bool, ahead: timedelta) -> tuple[str, int]:
    """Dial survey ``code`` to its end on a clock of its own; its fingerprint and the statements run."""
    clock = VirtualClock(START)
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, code=code, quotas=quotas, settings=PACING)
        add_numbers(s, survey, 40, clock.now(), start=start)
        survey_id = survey.id
    channel = ScriptedChannel(clock, default=_eventful(clock, 3) if eventful else random_outcomes(3))
    statements = [0]

    def count(*_args: object) -> None:
        statements[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        run_worker(sessions, channel, clock, VAULT, WorkerOptions(survey=code, owner=code, lease_due_ahead=ahead))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    with session_scope(sessions) as s:
        return fingerprint(s, survey_id), statements[0]


@pytest.mark.parametrize(("quotas", "eventful", "fewer"), [((1000,) * 4, False, 0.85), ((6, 9, 1000, 3), True, 1.0)],
                         ids=["campaign", "quotas-callbacks-optouts"])
def test_leasing_ahead_places_the_same_calls_as_leasing_what_is_due(
        sessions: sessionmaker[Session], engine: Engine, quotas: tuple[int, ...], eventful: bool, fewer: float) -> None:
    """(Each callback, opt-out, operator request or filled township ends a run ahead: few gains there.)"""
    straight, straight_statements = _campaign(sessions, engine, "S1", 0, quotas, eventful, timedelta(0))
    ahead, ahead_statements = _campaign(sessions, engine, "S2", 10_000, quotas, eventful, timedelta(minutes=5))
    assert ahead == straight
    assert ahead_statements < fewer * straight_statements  # it did lease ahead
