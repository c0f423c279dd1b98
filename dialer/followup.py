"""Work for call-centre staff (console tasks): the one place a task is opened.

A case has at most one unfinished task of each kind that stands for "someone should call this
resident" (an operator request, a revisit), so the IVR's request and the dialer's reading of the
call's result, or two concerns resolved one after the other, give one task, not two.

Revisits (回访) and callbacks a staff member agreed with a resident outlive the survey round that
made them: they are promises to a resident, not sample work, so closing the round keeps them and
the queue lists them whatever the survey's status.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, case, or_, select
from sqlalchemy.orm import Session

from survey.models import FollowUpTask, Survey
from survey.vocabulary import SurveyStatus, TaskKind, TaskStatus

PRIORITY = {TaskKind.OPERATOR: 10, TaskKind.PARTIAL: 5, TaskKind.REVISIT: 5}
ONE_AT_A_TIME = (TaskKind.OPERATOR, TaskKind.REVISIT)
OUTLIVE_ROUND = (TaskKind.REVISIT, TaskKind.CALLBACK)
UNFINISHED = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


def open_task(session: Session, *, survey_id: int, case_id: int, kind: TaskKind, now: datetime, note: str,
              interview_id: int | None = None, due_at: datetime | None = None,
              assigned_to: int | None = None, flush: bool = True) -> FollowUpTask | None:
    """A new open task, due ``due_at`` (now by default); None when the case already has an
    unfinished task of a kind it may hold only one of. ``flush=False`` leaves the INSERT to the
    session's next flush, so that the tasks of a batch go in one statement (the task has no id
    until then)."""
    if kind in ONE_AT_A_TIME and session.scalar(select(FollowUpTask.id).where(
            FollowUpTask.case_id == case_id, FollowUpTask.kind == kind,
            FollowUpTask.status.in_(UNFINISHED)).limit(1)) is not None:
        return None
    task = FollowUpTask(survey_id=survey_id, case_id=case_id, interview_id=interview_id, kind=kind,
                        priority=PRIORITY.get(kind, 0), due_at=now if due_at is None else due_at,
                        assigned_to=assigned_to, created_at=now, note=note)
    session.add(task)
    if flush:
        session.flush()
    return task


# Which task an interviewer gets next: a callback whose promised time has come, then a resident
# waiting for a person, then interviews to finish, revisits (回访), door-to-door visits, and last
# refusal conversion; within a kind the task's priority, then the oldest due time.
KIND_URGENCY = {TaskKind.CALLBACK: 0, TaskKind.OPERATOR: 1, TaskKind.PARTIAL: 2, TaskKind.REVISIT: 3,
                TaskKind.F2F_VISIT: 4, TaskKind.REFUSAL_CONVERSION: 5}


def _ordered(query: Select[FollowUpTask], due_first_at: datetime | None) -> Select[FollowUpTask]:
    urgency = case(KIND_URGENCY, value=FollowUpTask.kind, else_=9)
    if due_first_at is not None:
        query = query.order_by(case((or_(FollowUpTask.due_at.is_(None), FollowUpTask.due_at <= due_first_at), 0),
                                    else_=1))
    return query.order_by(urgency, FollowUpTask.priority.desc(), FollowUpTask.due_at, FollowUpTask.id)


def open_tasks(user_id: int, due_first_at: datetime | None = None) -> Select[FollowUpTask]:
    """Open tasks that ``user_id`` may take, most urgent first: those of active surveys, and
    revisits and staff callbacks whatever their survey's status. With ``due_first_at``, the tasks
    due at that time come before the later ones (the queue a person reads)."""
    return _ordered(select(FollowUpTask).join(Survey, Survey.id == FollowUpTask.survey_id).where(
        FollowUpTask.status == TaskStatus.OPEN,
        or_(Survey.status == SurveyStatus.ACTIVE, FollowUpTask.kind.in_(OUTLIVE_ROUND)),
        or_(FollowUpTask.assigned_to.is_(None), FollowUpTask.assigned_to == user_id)), due_first_at)
