"""A sample import run as a job: it reports progress through its stages, imports a large frame
completely (CSV and XLSX), a second run of the same frame adds nothing, and a worker killed
half-way leaves nothing behind and its job is run again, whole, by the next worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jobs_support import VAULT, context, make_survey, write_frame
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialer import frames, sample
from jobs import queue
from jobs.progress import percent
from jobs.queue import LEASE
from jobs.runner import Heartbeat, run_next
from jobs.sample_import import HANDLERS, KIND, SampleOptions, queue_sample_import, run_sample_import
from survey.clock import VirtualClock
from survey.db import make_engine, session_factory, upgrade
from survey.models import Case, Job, Survey
from survey.vocabulary import JobStatus

ROOT = Path(__file__).resolve().parents[2]


def _queue_frame(sessions: sessionmaker[Session], clock: VirtualClock, frame: Path) -> int:
    with sessions.begin() as s:
        row = s.scalars(select(Survey)).first() or make_survey(s, clock)
        return queue_sample_import(s, row, frame.name, frame.read_bytes(), VAULT, clock, user_id=None,
                                   options=SampleOptions()).id


def _cases(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Case)))


def _job(sessions: sessionmaker[Session], job_id: int) -> Job:
    with sessions() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def test_progress_goes_through_the_stages(sessions: sessionmaker[Session], clock: VirtualClock, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "PROGRESS_EVERY", 1_000)
    monkeypatch.setattr(sample, "PROGRESS_EVERY", 1_000)
    monkeypatch.setattr(sample, "CHUNK", 1_000)
    job_id = _queue_frame(sessions, clock, write_frame(tmp_path / "frame.csv", 2_500))
    with sessions.begin() as s:
        claimed = queue.claim(s, "w", clock.now(), (KIND,))
    assert claimed is not None
    seen: list[tuple[str, int, int]] = []
    with Heartbeat(context(sessions, clock), claimed, interval=3600) as beat:
        def record(stage: str, done: int, total: int) -> None:
            seen.append((stage, done, total))
            beat.progress(stage, done, total)
            if (stage, done) == ("checking", 2_000):  # as the heartbeat thread would, half-way
                beat.beat()
                assert percent(_job(sessions, job_id)) == 30 + 40 * 2_000 // 2_500

        run_sample_import(context(sessions, clock), claimed, record)
    assert [s for s in seen if s[0] == "reading"] == [("reading", 1_000, 0), ("reading", 2_000, 0)]
    assert [s for s in seen if s[0] == "checking"] == [("checking", 1_000, 2_500), ("checking", 2_000, 2_500)]
    stored = [done for stage, done, total in seen if stage == "storing" and total == 5_000]
    assert stored == [0, 1_000, 2_000, 2_500, 3_500, 4_500, 5_000]  # contacts by 1,000, then cases by 1,000
    job = _job(sessions, job_id)
    assert (job.status, job.result["imported"], percent(job)) == (JobStatus.DONE, 2_500, 100)  # type: ignore[index]
    assert _cases(sessions) == 2_500


def _sqlite(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path}/minyi.db"
    migrating = make_engine(url)
    upgrade(migrating)
    migrating.dispose()
    return session_factory(make_engine(url))


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_large_frame_imports_completely_and_once(clock: VirtualClock, tmp_path: Path, suffix: str) -> None:
    """20,000 rows here (200,000 in bench/sample_job.py, figures in docs/jobs.md); a second upload adds nothing."""
    sessions = _sqlite(tmp_path)
    frame = write_frame(tmp_path / f"frame{suffix}", 20_000)
    first, again = _queue_frame(sessions, clock, frame), _queue_frame(sessions, clock, frame)
    ctx = context(sessions, clock)
    assert run_next(ctx, HANDLERS, "w") and run_next(ctx, HANDLERS, "w") and not run_next(ctx, HANDLERS, "w")
    assert _job(sessions, first).result["imported"] == 20_000  # type: ignore[index]
    assert _job(sessions, again).result["already_in_survey"] == 20_000  # type: ignore[index]
    assert _cases(sessions) == 20_000


# Long enough that the worker writes a stage (its heartbeat beats once a second) before it is done
# on a quiet machine: 20,000 rows were imported in less than a second.
ROWS_KILLED = 80_000


def test_a_killed_worker_s_job_is_run_again_whole(tmp_path: Path) -> None:
    """A real `minyi worker` process killed with SIGKILL in the middle of an import."""
    sessions = _sqlite(tmp_path)
    url = str(sessions.kw["bind"].url)
    wall = VirtualClock(datetime.now(UTC))
    job_id = _queue_frame(sessions, wall, write_frame(tmp_path / "frame.csv", ROWS_KILLED))
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "MINYI_DATABASE_URL": url,
           "MINYI_SECRET_KEY": "test-secret"}
    worker = subprocess.Popen([sys.executable, "-c", "from minyi.cli import main; main()", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _job(sessions, job_id).stage in ("", "starting"):  # running, and its heartbeat has written
            assert time.monotonic() < deadline and worker.poll() is None, "the worker did not start the job"
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    killed = _job(sessions, job_id)
    assert killed.status == JobStatus.RUNNING and killed.stage in ("reading", "checking", "storing")
    assert _cases(sessions) == 0  # the import is one transaction: nothing of it was kept

    later = VirtualClock(datetime.now(UTC) + LEASE + timedelta(seconds=1))
    assert run_next(context(sessions, later), HANDLERS, "next")
    job = _job(sessions, job_id)
    assert (job.status, job.attempts, job.worker, job.result["imported"]) == (  # type: ignore[index]
        JobStatus.DONE, 2, "next", ROWS_KILLED)
    assert _cases(sessions) == ROWS_KILLED


def test_minyi_worker_once_runs_the_queue_and_exits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from minyi.cli import app

    sessions = _sqlite(tmp_path)
    job_id = _queue_frame(sessions, VirtualClock(datetime.now(UTC)), write_frame(tmp_path / "frame.csv", 30))
    monkeypatch.setenv("MINYI_DATABASE_URL", str(sessions.kw["bind"].url))
    monkeypatch.setenv("MINYI_SECRET_KEY", "test-secret")
    result = CliRunner().invoke(app, ["worker", "--once"])
    assert result.exit_code == 0 and "1 job(s) run" in result.output, result.output
    assert _job(sessions, job_id).status == JobStatus.DONE and _cases(sessions) == 30
