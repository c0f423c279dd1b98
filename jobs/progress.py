"""A job's progress as a page shows it: its state, the stage it is in and a percentage.

A sample import reads its rows (how many there are is known only at the end), checks them, then
stores them; the percentage gives each stage a share of the bar.
"""

from __future__ import annotations

from typing import Any

from survey.models import Job
from survey.vocabulary import JobStatus

STAGES = {"starting": (0, 2), "reading": (2, 30), "checking": (30, 70), "storing": (70, 100)}


def percent(job: Job) -> int:
    if job.status == JobStatus.DONE:
        return 100
    low, high = STAGES.get(job.stage, (0, 0))
    if job.status != JobStatus.RUNNING or not job.total:
        return low
    return low + (high - low) * min(job.done, job.total) // job.total


def state(job: Job) -> dict[str, Any]:
    """The JSON the job's page polls."""
    return {"id": job.id, "status": job.status, "stage": job.stage, "done": job.done, "total": job.total,
            "percent": percent(job), "attempts": job.attempts,
            "finished": job.status in (JobStatus.DONE, JobStatus.FAILED)}
