"""The job table as a queue: enqueue, claim, heartbeat, finish, fail, and taking back the jobs of
workers that stopped.

A job is claimed with one conditional UPDATE (``WHERE status = 'queued'``), so two workers never
both get it; on PostgreSQL the candidate row is picked with ``FOR UPDATE SKIP LOCKED`` so that
workers do not queue behind one another's row locks. The claimant holds the job while it renews
``lease_until``; every later write names the worker (``WHERE worker = ... AND status = 'running'``),
so a worker whose lease ran out and whose job another worker took cannot finish it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from survey.models import Job, JobFile
from survey.vocabulary import JobStatus

LEASE = timedelta(seconds=60)  # a worker that has not renewed its lease for this long has stopped


class LeaseLost(RuntimeError):
    """The job is no longer this worker's: its lease ran out and it went back to the queue."""


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    attempt: int
    worker: str


def enqueue(session: Session, now: datetime, *, kind: str, params: dict[str, Any], user_id: int | None,
            survey_id: int | None, files: dict[str, tuple[str, bytes]], max_attempts: int = 3) -> Job:
    """A queued job with its input files (role → (name, bytes)), in the caller's transaction."""
    job = Job(kind=kind, params=params, user_id=user_id, survey_id=survey_id, created_at=now,
              status=JobStatus.QUEUED, max_attempts=max_attempts, attempts=0, stage="", done=0, total=0)
    session.add(job)
    session.flush()
    for role, (name, data) in files.items():
        session.add(JobFile(job_id=job.id, role=role, name=name, size=len(data), data=data))
    return job


def claim(session: Session, worker: str, now: datetime, kinds: tuple[str, ...]) -> Claimed | None:
    """The oldest queued job of ``kinds``, now running for ``worker``; None when there is none."""
    while True:
        pick = (select(Job.id).where(Job.status == JobStatus.QUEUED, Job.kind.in_(kinds))
                .order_by(Job.id).limit(1))
        if session.get_bind().dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        job_id = session.scalar(pick)
        if job_id is None:
            return None
        taken = session.execute(
            update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED)
            .values(status=JobStatus.RUNNING, worker=worker, started_at=now, heartbeat_at=now,
                    lease_until=now + LEASE, attempts=Job.attempts + 1, stage="", done=0, total=0)
            .returning(Job.kind, Job.attempts)).first()
        if taken is not None:
            return Claimed(job_id, taken.kind, taken.attempts, worker)


def _ours(job: Claimed) -> Any:
    return (Job.id == job.id) & (Job.worker == job.worker) & (Job.status == JobStatus.RUNNING)


def heartbeat(session: Session, job: Claimed, now: datetime, *, stage: str, done: int, total: int) -> bool:
    """Renew the lease and record the progress; False if the job is no longer ``job.worker``'s."""
    result = session.execute(update(Job).where(_ours(job)).values(
        heartbeat_at=now, lease_until=now + LEASE, stage=stage, done=done, total=total))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish(session: Session, job: Claimed, now: datetime, result: dict[str, Any],
           files: dict[str, tuple[str, bytes]]) -> None:
    """Mark the job done with its result and output files, in the caller's transaction (the one
    that did the work): if the job is no longer ours, :class:`LeaseLost` rolls the work back."""
    done = session.execute(update(Job).where(_ours(job)).values(
        status=JobStatus.DONE, finished_at=now, lease_until=None, result=result, stage="done"))
    if not done.rowcount:  # type: ignore[attr-defined]
        raise LeaseLost(f"job {job.id} is no longer {job.worker}'s")
    for role, (name, data) in files.items():
        session.merge(JobFile(job_id=job.id, role=role, name=name, size=len(data), data=data))


def fail(session: Session, job: Claimed, now: datetime, message: str, values: dict[str, Any]) -> None:
    """Mark the job failed with a message id and its values (what the page shows)."""
    session.execute(update(Job).where(_ours(job)).values(
        status=JobStatus.FAILED, finished_at=now, lease_until=None,
        error={"message": message, "values": values}))


def release(session: Session, job: Claimed) -> None:
    """Put a job this worker cannot finish now (the database went away) back in the queue."""
    session.execute(update(Job).where(_ours(job)).values(status=JobStatus.QUEUED, worker=None, lease_until=None))


STOPPED = "the worker running this job stopped %(attempts)d time(s); it was not tried again"


def take_back(session: Session, now: datetime) -> tuple[int, int]:
    """Jobs whose worker stopped (their lease ran out): queued again, or failed after their last
    try. Returns (requeued, failed)."""
    expired = (Job.status == JobStatus.RUNNING) & (Job.lease_until < now)
    spent = session.execute(select(Job.id, Job.attempts).where(expired, Job.attempts >= Job.max_attempts)).all()
    for job_id, attempts in spent:
        session.execute(update(Job).where(Job.id == job_id, expired).values(
            status=JobStatus.FAILED, finished_at=now, lease_until=None,
            error={"message": STOPPED, "values": {"attempts": attempts}}))
    requeued = session.execute(update(Job).where(expired).values(
        status=JobStatus.QUEUED, worker=None, lease_until=None)).rowcount  # type: ignore[attr-defined]
    return int(requeued), len(spent)


def input_file(session: Session, job_id: int, role: str = "upload") -> JobFile | None:
    return session.get(JobFile, (job_id, role))
