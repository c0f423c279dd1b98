"""A dialer worker frozen (SIGSTOP) while it holds leases: another worker notices its stale
heartbeat within ``stale_after + takeover_every_s`` and takes its leases back (the open attempts
end as unknown with the hang-up cause ``worker_lost``), long before the leases would expire. When
the frozen worker wakes up it places none of the calls it had leased before it froze, and no case
is ever called by two workers at once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dialer_fakes import ALWAYS_OPEN, add_numbers, assert_no_case_called_twice_at_once, make_survey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialer.leases import WORKER_LOST
from dialer.policy import RULE_KEYS
from survey.clock import SystemClock
from survey.db import make_engine, session_factory, session_scope
from survey.models import CallAttempt, Case
from survey.vocabulary import ATTEMPT_ENDED, AttemptStatus, CaseStatus

pytestmark = [pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]

WORKER = Path(__file__).resolve().parents[1] / "dialer" / "dialer_worker_proc.py"
STALE_S, TAKEOVER_S = 1.5, 0.3
SETTINGS = {  # leases that outlast the test, and cases taken back retried only after it
    "calling_windows": ALWAYS_OPEN,
    "retry_policy": {"max_attempts": 4, "max_per_daypart": 4, "max_per_day": 4,
                     "rules": {k: {"delay_minutes": 60, "rotate": "none"} for k in RULE_KEYS}},
    "pacing": {"lease_seconds": 3600, "trunks": [{"name": "main", "lines": 3, "cps": 50}]},
}


def _worker(db_url: str, owner: str, call_s: float, flag: Path, run_s: float) -> subprocess.Popen[str]:
    options = [f"max_seconds={run_s}", f"stale_after={STALE_S}", f"takeover_every_s={TAKEOVER_S}",
               "heartbeat_every_s=0.2"]
    return subprocess.Popen([sys.executable, str(WORKER), db_url, owner, str(call_s), str(flag), *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_frozen_workers_leases_go_to_another_worker_and_no_case_is_called_twice(db_url: str,
                                                                                 tmp_path: Path) -> None:
    clock = SystemClock()
    sessions = session_factory(make_engine(db_url))
    with session_scope(sessions) as s:
        survey = make_survey(s, clock, quotas=(50, 50), settings=SETTINGS)
        add_numbers(s, survey, 20, clock.now())
    frozen_flag = tmp_path / "a.calling"
    a = _worker(db_url, "a", 3.0, frozen_flag, 30)
    deadline = time.monotonic() + 30
    while not frozen_flag.exists():  # in its first call, two more of its batch leased and waiting
        assert time.monotonic() < deadline and a.poll() is None, a.communicate()
        time.sleep(0.005)
    a.send_signal(signal.SIGSTOP)
    frozen_at = clock.now()
    with sessions() as s:
        held = set(s.scalars(select(Case.id).where(Case.lease_owner == "a")))
    assert len(held) == 3
    b = _worker(db_url, "b", 0.02, tmp_path / "b.calling", 8)
    try:
        deadline = time.monotonic() + STALE_S + TAKEOVER_S + 10  # + starting the process, one turn
        while _leased_to(sessions, "a"):
            assert time.monotonic() < deadline, ("the frozen worker's leases were not taken back",
                                                 b.poll() is not None and b.communicate())
            time.sleep(0.05)
        taken_back_s = (clock.now() - frozen_at).total_seconds()
        out_b, err_b = b.communicate(timeout=60)
    finally:
        a.send_signal(signal.SIGCONT)
    out_a, err_a = a.communicate(timeout=60)
    assert a.returncode == 0, err_a
    assert b.returncode == 0, err_b
    assert json.loads(out_b)["stop"] == "time limit reached"

    with sessions() as s:
        attempts = list(s.scalars(select(CallAttempt).order_by(CallAttempt.id)))
        assert all(a.status in ATTEMPT_ENDED for a in attempts), [(a.id, a.worker, a.status) for a in attempts]
        frozen = [a for a in attempts if a.worker == "a" and a.case_id in held]
        assert {a.case_id for a in frozen} == held  # the leased calls never placed were not withdrawn
        # the call in progress may report its own result on waking; the two waiting were never placed
        assert [(a.status, a.hangup_cause) for a in frozen].count((AttemptStatus.UNKNOWN, WORKER_LOST)) >= 2
        assert all(a.ended_at is not None and a.ended_at >= frozen_at for a in frozen)
        assert sum(1 for a in attempts if a.case_id in held) == 3  # nobody called them again meanwhile
        assert_no_case_called_twice_at_once(attempts)
        assert {a.worker for a in attempts} == {"a", "b"}
        assert not [c for c in s.scalars(select(Case)) if c.status == CaseStatus.LEASED]
    assert taken_back_s <= STALE_S + TAKEOVER_S + 10


def _leased_to(sessions: sessionmaker[Session], owner: str) -> bool:
    with sessions() as s:
        return s.scalars(select(Case.id).where(Case.lease_owner == owner, Case.status == CaseStatus.LEASED)).first() \
            is not None
