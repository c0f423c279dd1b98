"""The interviewers' follow-up queue, most urgent first.

Urgency: a callback whose promised time has come, then a resident waiting for a person (operator
request), then interviews to finish (partial), revisits of resolved concerns (回访), door-to-door
visits, and last refusal conversion; within a kind the task's priority, then the oldest due time.
Only tasks of active surveys (and revisits and staff callbacks, which outlive their round) that
are due now, and either unassigned or assigned to this interviewer, can be taken; the rest are
listed as upcoming.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from dialer.followup import open_tasks
from survey.models import Case, FollowUpTask
from survey.vocabulary import TaskStatus
from web.scope import Scope


@dataclass(frozen=True)
class QueueRow:
    task: FollowUpTask
    due: bool


def is_due(task: FollowUpTask, now: datetime) -> bool:
    return task.due_at is None or task.due_at <= now


def queue(session: Session, user_id: int, now: datetime, within: Scope, limit: int = 100) -> list[QueueRow]:
    tasks = session.scalars(open_tasks(user_id).where(within.where(FollowUpTask)).options(
        joinedload(FollowUpTask.case).joinedload(Case.stratum)).limit(limit)).all()
    rows = [QueueRow(t, is_due(t, now)) for t in tasks]
    return [r for r in rows if r.due] + [r for r in rows if not r.due]


def my_open_tasks(session: Session, user_id: int) -> list[FollowUpTask]:
    """Tasks this interviewer has taken and not finished."""
    return list(session.scalars(select(FollowUpTask).where(
        FollowUpTask.assigned_to == user_id, FollowUpTask.status == TaskStatus.IN_PROGRESS)
        .options(joinedload(FollowUpTask.case).joinedload(Case.stratum)).order_by(FollowUpTask.id)))
