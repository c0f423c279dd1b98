"""The job table as a queue, on SQLite and PostgreSQL: one claimant per job, a lease that a stopped
worker loses, a late worker that cannot finish a job taken back, and jobs failed after their last try."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs import queue
from jobs.queue import LEASE, LeaseLost
from survey.clock import VirtualClock
from survey.models import Job
from survey.vocabulary import JobStatus


def _queue(sessions: sessionmaker[Session], clock: VirtualClock, n: int, max_attempts: int = 3) -> list[int]:
    with sessions.begin() as s:
        return [queue.enqueue(s, clock.now(), kind="k", params={}, user_id=None, survey_id=None,
                              files={"upload": ("f.csv", b"x")}, max_attempts=max_attempts).id for _ in range(n)]


def _job(sessions: sessionmaker[Session], job_id: int) -> Job:
    with sessions() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def test_each_job_is_claimed_once_oldest_first(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    ids = _queue(sessions, clock, 2)
    with sessions.begin() as s:
        first = queue.claim(s, "w1", clock.now(), ("k",))
    with sessions.begin() as s:
        second = queue.claim(s, "w2", clock.now(), ("k",))
        assert queue.claim(s, "w3", clock.now(), ("k",)) is None
        assert queue.claim(s, "w3", clock.now(), ("other",)) is None
    assert first is not None and second is not None
    assert (first.id, first.worker, first.attempt, second.id) == (ids[0], "w1", 1, ids[1])
    job = _job(sessions, ids[0])
    assert (job.status, job.worker, job.lease_until) == (JobStatus.RUNNING, "w1", clock.now() + LEASE)


@pytest.mark.postgres
def test_postgres_claim_skips_a_row_another_worker_is_claiming(pg_server_url: str, clock: VirtualClock) -> None:
    """Two workers claiming at once: the second does not wait for the first's row lock, it takes the next job."""
    from pg_support import pg_schema

    from survey.db import make_engine, session_factory

    with pg_schema(pg_server_url, "j") as url:
        engine = make_engine(url)
        sessions = session_factory(engine)
        ids = _queue(sessions, clock, 2)
        first, second = sessions(), sessions()
        try:
            a = queue.claim(first, "w1", clock.now(), ("k",))  # not committed: the row stays locked
            second.connection().exec_driver_sql("SET lock_timeout = '2s'")  # waiting for w1's row would fail
            b = queue.claim(second, "w2", clock.now(), ("k",))
            assert a is not None and b is not None and (a.id, b.id) == (ids[0], ids[1])
            first.commit()
            second.commit()
        finally:
            first.close()
            second.close()
            engine.dispose()


def test_a_stopped_worker_loses_its_job_and_cannot_finish_it(sessions: sessionmaker[Session],
                                                             clock: VirtualClock) -> None:
    [job_id] = _queue(sessions, clock, 1)
    with sessions.begin() as s:
        dead = queue.claim(s, "dead", clock.now(), ("k",))
    assert dead is not None
    clock.advance(LEASE / 2)
    with sessions.begin() as s:
        assert queue.take_back(s, clock.now()) == (0, 0)  # its lease still runs
        assert queue.heartbeat(s, dead, clock.now(), stage="checking", done=5, total=10)
    clock.advance(LEASE + timedelta(seconds=1))
    with sessions.begin() as s:
        assert queue.take_back(s, clock.now()) == (1, 0)
        alive = queue.claim(s, "alive", clock.now(), ("k",))
    assert alive is not None and (alive.id, alive.attempt) == (job_id, 2)
    with sessions.begin() as s:
        assert not queue.heartbeat(s, dead, clock.now(), stage="storing", done=1, total=1)
        with pytest.raises(LeaseLost):
            queue.finish(s, dead, clock.now(), {"late": True}, {})
    with sessions.begin() as s:
        queue.finish(s, alive, clock.now(), {"ok": True}, {"rejected": ("r.csv", b"x")})
    job = _job(sessions, job_id)
    assert (job.status, job.result, job.attempts) == (JobStatus.DONE, {"ok": True}, 2)


def test_a_job_whose_worker_stops_every_time_fails_after_its_last_try(sessions: sessionmaker[Session],
                                                                      clock: VirtualClock) -> None:
    [job_id] = _queue(sessions, clock, 1, max_attempts=2)
    for expected in ((1, 0), (0, 1)):
        with sessions.begin() as s:
            assert queue.claim(s, "crashing", clock.now(), ("k",)) is not None
        clock.advance(LEASE + timedelta(seconds=1))
        with sessions.begin() as s:
            assert queue.take_back(s, clock.now()) == expected
    job = _job(sessions, job_id)
    assert job.status == JobStatus.FAILED
    assert job.error == {"message": queue.STOPPED, "values": {"attempts": 2}}
