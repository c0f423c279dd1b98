"""The interviewers' follow-up queue, most urgent first.

Urgency: a callback whose promised time has come, then a resident waiting for a person (operator
request), then interviews to finish (partial), revisits of resolved concerns (回访), door-to-door
visits, and last refusal conversion; within a kind the task's priority, then the oldest due time.
Only tasks of active surveys that are due now, and either unassigned or assigned to this
interviewer, can be taken; the rest are listed as upcoming.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, case, or_, select
from sqlalchemy.orm import Session, joinedload

from survey.models import Case, FollowUpTask, Survey
from survey.vocabulary import SurveyStatus, TaskKind, TaskStatus


KIND_URGENCY = {TaskKind.CALLBACK: 0, TaskKind.OPERATOR: 1, TaskKind.PARTIAL: 2, TaskKind.REVISIT: 3,
                TaskKind.F2F_VISIT: 4, TaskKind.REFUSAL_CONVERSION: 5}


@dataclass(frozen=True)
class QueueRow:
    task: FollowUpTask
    due: bool


def _ordered(query: Select[FollowUpTask]) -> Select[FollowUpTask]:
    urgency = case(KIND_URGENCY, value=FollowUpTask.kind, else_=9)
    return query.order_by(urgency, FollowUpTask.priority.desc(), FollowUpTask.due_at, FollowUpTask.id)


def open_tasks(user_id: int) -> Select[FollowUpTask]:
    """Open tasks of active surveys that ``user_id`` may take, most urgent first."""
    return _ordered(select(FollowUpTask).join(Survey, Survey.id == FollowUpTask.survey_id).where(
        FollowUpTask.status == TaskStatus.OPEN, Survey.status == SurveyStatus.ACTIVE,
        or_(FollowUpTask.assigned_to.is_(None), FollowUpTask.assigned_to == user_id)))


def is_due(task: FollowUpTask, now: datetime) -> bool:
    return task.due_at is None or task.due_at <= now


def queue(session: Session, user_id: int, now: datetime, limit: int = 100) -> list[QueueRow]:
    tasks = session.scalars(open_tasks(user_id).options(
        joinedload(FollowUpTask.case).joinedload(Case.stratum)).limit(limit)).all()
    rows = [QueueRow(t, is_due(t, now)) for t in tasks]
    return [r for r in rows if r.due] + [r for r in rows if not r.due]


def my_open_tasks(session: Session, user_id: int) -> list[FollowUpTask]:
    """Tasks this interviewer has taken and not finished."""
    return list(session.scalars(select(FollowUpTask).where(
        FollowUpTask.assigned_to == user_id, FollowUpTask.status == TaskStatus.IN_PROGRESS)
        .options(joinedload(FollowUpTask.case).joinedload(Case.stratum)).order_by(FollowUpTask.id)))
