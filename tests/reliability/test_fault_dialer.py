"""Dialer workers (`minyi dial --channel simulated`, virtual clock, PostgreSQL) SIGKILLed at random
points of a campaign and restarted, and PostgreSQL restarted under a running worker: no stored
answer is lost, no case is dialled twice at once, every attempt ends with a disposition once the
dead workers' leases have run out, and interviews stopped part-way resume at their question."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from reliability_campaign import (
    QUOTAS_MET,
    Stored,
    assert_fieldwork_consistent,
    assert_nothing_lost,
    attempts_placed,
    create_campaign,
    reconcile,
    reconciled_after_lease_expiry,
    resume_time,
    resumed_where_they_stopped,
    start_worker,
    stored,
    wait_for,
)
from reliability_support import Child, restart_postgres
from sqlalchemy.orm import Session, sessionmaker

pytestmark = [pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]

KILLS = 4
SEED = 20261102


def _finish(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> list[Stored]:
    """One more worker until every quota is met, then the leases of the dead ones run out.
    Returns what was stored while it ran."""
    last, seen = start_worker(db_url, tmp_path, "final", resume_time(sessions)), []
    while last.running:
        seen.append(stored(sessions))
        time.sleep(0.05)
    assert last.wait(120) == 0, last.output()
    assert QUOTAS_MET in last.output()
    reconcile(sessions)
    return seen


def _kill_at_random_point(worker: Child, sessions: sessionmaker[Session], calls: int) -> list[Stored]:
    """SIGKILL ``worker`` once ``calls`` more calls were placed; returns what was stored while it
    ran, the last snapshot right after the kill."""
    target, seen = attempts_placed(sessions) + calls, []

    def due() -> bool:
        seen.append(stored(sessions))
        return attempts_placed(sessions) >= target

    wait_for(due, worker, 60, f"{target} calls")
    worker.kill()
    return [*seen[::5], stored(sessions)]


def test_workers_killed_at_random_points_lose_nothing(db_url: str, sessions: sessionmaker[Session],
                                                      tmp_path: Path) -> None:
    create_campaign(sessions, quotas=(15, 15, 15), per_township=120)  # some 300 calls: the kills come before its end
    rng = random.Random(SEED)
    at_kills, seen = [], []
    for n in range(KILLS):
        worker = start_worker(db_url, tmp_path, f"w{n}", resume_time(sessions))
        seen += _kill_at_random_point(worker, sessions, rng.randint(5, 30))
        at_kills.append(seen[-1])
    seen += _finish(db_url, sessions, tmp_path)

    for before in at_kills:
        assert_nothing_lost(sessions, before)
    assert sum(resumed_where_they_stopped(sessions, before) for before in seen) > 0
    assert_fieldwork_consistent(sessions)
    assert reconciled_after_lease_expiry(sessions) > 0  # the killed workers' calls were taken back


def test_a_worker_survives_a_postgresql_restart(db_url: str, sessions: sessionmaker[Session],
                                                tmp_path: Path) -> None:
    create_campaign(sessions, quotas=(15, 15, 15), per_township=120)  # some 300 calls: the restart comes before its end
    worker = start_worker(db_url, tmp_path, "w0", resume_time(sessions))
    wait_for(lambda: attempts_placed(sessions) >= 20, worker, 60, "20 calls")
    before, placed = stored(sessions), attempts_placed(sessions)
    sessions.kw["bind"].dispose()
    assert worker.running  # mid-campaign
    restart_postgres(db_url)
    assert worker.wait(120) == 0, worker.output()
    assert attempts_placed(sessions) > placed  # it went on after the restart
    assert QUOTAS_MET in worker.output()
    reconcile(sessions)
    assert_nothing_lost(sessions, before)
    assert_fieldwork_consistent(sessions)
