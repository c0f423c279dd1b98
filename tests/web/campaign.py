"""A simulated campaign for the web tests: a survey round of the synthetic county, dialled by the
real dialer worker over the simulated channel while the app is being used."""

from __future__ import annotations

import tempfile
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from dialer.frames import read_frame
from dialer.sample import import_sample
from dialer.worker import WorkerOptions, WorkerReport, run_worker
from ivr.channels.simulated import SimulatedChannel, World
from reports.results import bundled_analysis_spec
from survey.clock import VirtualClock
from survey.db import session_scope
from survey.phones import PhoneVault
from survey.questionnaire import load_bundled
from survey.surveys import create_survey


class PacedClock(VirtualClock):
    """A virtual clock whose waits also take a little real time (``pace`` real seconds per
    virtual second, at most ``cap`` per wait), so a campaign unfolds over a few real seconds."""

    def __init__(self, start: datetime, pace: float, cap: float = 0.25) -> None:
        super().__init__(start)
        self.pace, self.cap = pace, cap

    def sleep(self, seconds: float) -> None:
        time.sleep(min(max(seconds, 0.0) * self.pace, self.cap))
        super().sleep(seconds)


def field_survey(sessions: sessionmaker[Session], clock: VirtualClock, world: World, vault: PhoneVault, *,
                 code: str, quota: int, numbers: int, lines: int = 6) -> int:
    """A round of ``world``'s townships with ``numbers`` sampled numbers each; returns its id."""
    settings = {"analysis_spec": bundled_analysis_spec(),
                "pacing": {"trunks": [{"name": "sim", "lines": lines, "cps": 3.0, "caller_ids": ["+8673112340"]}]}}
    with tempfile.TemporaryDirectory() as folder, session_scope(sessions) as session:
        survey = create_survey(session, code, load_bundled(), clock, period="2026-11", strata=world.strata(quota),
                               name="模拟调查 2026年11月", settings=settings)
        frame = world.write_frame_csv(world.sample(numbers, draw=code), Path(folder) / "frame.csv")
        import_sample(session, survey, read_frame(frame), vault, clock.now(), seed=1)
        return survey.id


def dial(sessions: sessionmaker[Session], clock: VirtualClock, world: World, vault: PhoneVault, code: str,
         max_seconds: float | None = None) -> WorkerReport:
    channel = SimulatedChannel(sessions, clock, world, seed=3)
    return run_worker(sessions, channel, clock, vault, WorkerOptions(survey=code, max_seconds=max_seconds,
                                                                     poll_seconds=0.05))
