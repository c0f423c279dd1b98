"""The simulated channel refuses a survey whose townships its world does not know, before the
first call; run without that check, its failing calls stop the dialer instead of coding the sample."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sim_support import BUNDLED, VAULT, Fieldwork
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialer.frames import Frame, FrameRow
from dialer.protocol import ChannelNotReady
from dialer.sample import import_sample
from dialer.worker import Stop, WorkerOptions, run_worker
from ivr.channels.simulated import SimulatedChannel, World
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.models import CallAttempt, Case
from survey.surveys import StratumSpec, create_survey

OPEN = {"weekday": ["00:00-24:00"], "weekend": ["00:00-24:00"]}


def _own_townships(sessions: sessionmaker[Session], clock: VirtualClock, cases: int = 0) -> int:
    """A survey of a centre's own township codes, two of which the world does not have."""
    with session_scope(sessions) as s:
        strata = [StratumSpec(code, code, code) for code in ("T01", "430121101", "430121102")]
        survey = create_survey(s, "OWN", BUNDLED, clock, period="2026-11", strata=strata,
                               settings={"calling_windows": OPEN})
        rows = tuple(FrameRow(i + 2, {"number": f"+86139{i:08d}", "township": "430121101"}) for i in range(cases))
        import_sample(s, survey, Frame("utf-8", {"number": "number", "township": "township"}, (), rows), VAULT,
                      clock.now())
        return survey.id


def test_a_survey_of_the_worlds_townships_passes(fieldwork: Fieldwork) -> None:
    SimulatedChannel(fieldwork.sessions, fieldwork.clock, fieldwork.world).preflight(fieldwork.survey_id)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_townships_the_world_does_not_know_are_refused_by_name(sessions: sessionmaker[Session], clock: VirtualClock,
                                                               world: World) -> None:
    survey_id = _own_townships(sessions, clock)
    with pytest.raises(ChannelNotReady, match=r"^the simulated county has no township 430121101, 430121102 "
                                              r"\(it has T01\.\.T03\)"):
        SimulatedChannel(sessions, clock, world).preflight(survey_id)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_calls_the_world_cannot_place_stop_the_dialer_without_coding_the_cases(
        sessions: sessionmaker[Session], clock: VirtualClock, world: World) -> None:
    _own_townships(sessions, clock, cases=30)
    options = WorkerOptions(survey="OWN", owner="w1", until=clock.now() + timedelta(days=3), lines=4)
    report = run_worker(sessions, SimulatedChannel(sessions, clock, world), clock, VAULT, options)
    assert report.stop_reason == Stop.CHANNEL_FAILING
    assert report.channel_error is not None and "430121101" in report.channel_error
    with session_scope(sessions) as s:
        assert s.scalar(select(func.count()).select_from(CallAttempt)) == 0
        assert s.scalar(select(func.sum(Case.attempts))) == 0
        assert s.scalar(select(func.count()).select_from(Case).where(Case.lease_owner.is_not(None))) == 0
