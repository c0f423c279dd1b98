"""Work for call-centre staff (console tasks): the one place a task is opened.

A case has at most one unfinished task of each kind that stands for "someone should call this
resident" (an operator request, a revisit), so the IVR's request and the dialer's reading of the
call's result, or two concerns resolved one after the other, give one task, not two.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.models import FollowUpTask
from survey.vocabulary import TaskKind, TaskStatus

PRIORITY = {TaskKind.OPERATOR: 10, TaskKind.PARTIAL: 5, TaskKind.REVISIT: 5}
ONE_AT_A_TIME = (TaskKind.OPERATOR, TaskKind.REVISIT)
UNFINISHED = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


def open_task(session: Session, *, survey_id: int, case_id: int, kind: TaskKind, now: datetime, note: str,
              interview_id: int | None = None, due_at: datetime | None = None,
              assigned_to: int | None = None) -> FollowUpTask | None:
    """A new open task, due ``due_at`` (now by default); None when the case already has an
    unfinished task of a kind it may hold only one of."""
    if kind in ONE_AT_A_TIME and session.scalar(select(FollowUpTask.id).where(
            FollowUpTask.case_id == case_id, FollowUpTask.kind == kind,
            FollowUpTask.status.in_(UNFINISHED)).limit(1)) is not None:
        return None
    task = FollowUpTask(survey_id=survey_id, case_id=case_id, interview_id=interview_id, kind=kind,
                        priority=PRIORITY.get(kind, 0), due_at=now if due_at is None else due_at,
                        assigned_to=assigned_to, created_at=now, note=note)
    session.add(task)
    session.flush()
    return task
