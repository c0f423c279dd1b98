"""Four worker processes on one PostgreSQL campaign, one of them killed mid-call."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dialer_fakes import (
    ALWAYS_OPEN,
    add_numbers,
    assert_counts_match_cases,
    assert_no_case_called_twice_at_once,
    make_survey,
)
from pg_support import pg_schema
from sqlalchemy import func, select

from dialer.close import close_survey
from dialer.policy import RULE_KEYS
from survey.clock import SystemClock
from survey.db import make_engine, session_factory, session_scope
from survey.models import CallAttempt, Case, Survey
from survey.vocabulary import AttemptStatus, CaseStatus

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKER = Path(__file__).with_name("dialer_worker_proc.py")
FAST = {
    "calling_windows": ALWAYS_OPEN,
    "retry_policy": {"max_attempts": 4, "max_per_daypart": 4, "max_per_day": 4,
                     "rules": {k: {"delay_minutes": 0.02, "rotate": "none"} for k in RULE_KEYS}},
    "pacing": {"lease_seconds": 2, "trunks": [{"name": "main", "lines": 3, "cps": 50}]},
}


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    with pg_schema(pg_server_url, "w") as url:
        yield url


def _wait_for(flag: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not flag.exists():
        assert time.monotonic() < deadline, "the worker never got to a call"
        time.sleep(0.002)


def test_four_workers_share_a_campaign_and_survive_a_killed_worker(pg_url: str, tmp_path: Path) -> None:
    clock = SystemClock()
    sessions = session_factory(make_engine(pg_url))
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=(10, 10, 10, 10), settings=FAST)
        add_numbers(s, survey, 60, clock.now())
    flags = [tmp_path / f"w{i}.calling" for i in range(4)]
    procs = [subprocess.Popen([sys.executable, str(WORKER), pg_url, f"w{i}", "1.0" if i == 0 else "0.03",
                               str(flags[i])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    _wait_for(flags[0], 30)
    procs[0].send_signal(signal.SIGKILL)
    killed_at = clock.now()
    outputs = [p.communicate(timeout=60) for p in procs]
    assert procs[0].returncode == -signal.SIGKILL
    for p, (out, err) in zip(procs[1:], outputs[1:], strict=True):
        assert p.returncode == 0, err
        assert json.loads(out)["stop"] == "every township reached its quota"

    with session_scope(sessions) as s:
        attempts = s.scalars(select(CallAttempt).order_by(CallAttempt.id)).all()
        assert_no_case_called_twice_at_once(attempts)
        lost = [a for a in attempts if a.worker == "w0" and a.status == AttemptStatus.UNKNOWN]
        assert lost, "the killed worker's calls were reconciled"
        assert all(a.error and a.error.startswith("lease expired") and a.ended_at and a.ended_at >= killed_at
                   for a in lost)
        assert {a.worker for a in attempts} == {"w0", "w1", "w2", "w3"}
        assert all(a.temp_disposition for a in attempts)
        assert s.scalar(select(func.count()).select_from(Case).where(Case.status == CaseStatus.LEASED)) == 0
        assert sum(s.scalars(select(Case.attempts))) == len(attempts)
        completes = dict(s.execute(select(Case.stratum_id, func.count()).where(Case.final_disposition == "1.1")
                                   .group_by(Case.stratum_id)).all())
        assert len(completes) == 4 and all(n >= 10 for n in completes.values())
        survey = s.scalars(select(Survey)).one()
        close_survey(s, survey, clock)
    with session_scope(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Case).where(  # numbers never dialled stay unreleased
            Case.status != CaseStatus.HELD, Case.final_disposition.is_(None))) == 0
        assert s.scalar(select(func.count()).select_from(Case)) == 240
        assert_counts_match_cases(s)  # kept right by four workers at once
