"""The interviewers' follow-up queue, most urgent first.

Urgency: a callback whose promised time has come, then a resident waiting for a person (operator
request), then interviews to finish (partial), revisits of resolved concerns (回访), door-to-door
visits, and last refusal conversion; within a kind the task's priority, then the oldest due time.
Only tasks of active surveys (and revisits and staff callbacks, which outlive their round) that
are due now, and either unassigned or assigned to this interviewer, can be taken; the rest are
listed as upcoming, after them. The list pages (web/listing.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from dialer.followup import open_tasks
from survey.models import Case, FollowUpTask
from survey.vocabulary import TaskStatus
from web.listing import Filters, Page, paginate
from web.scope import Scope


def is_due(task: FollowUpTask, now: datetime) -> bool:
    return task.due_at is None or task.due_at <= now


def queue(session: Session, user_id: int, now: datetime, within: Scope, found: Filters) -> tuple[Page[FollowUpTask], int]:
    """One page of the tasks this interviewer may take (filtered by township, kind and due day),
    due ones first, and how many of all the matching tasks are due now."""
    query = open_tasks(user_id, due_first_at=now).where(
        within.where(FollowUpTask), found.between(FollowUpTask.due_at),
        FollowUpTask.case_id.in_(select(Case.id).where(found.in_township(Case.stratum_id))))
    if found.status:
        query = query.where(FollowUpTask.kind == found.status)
    due = session.scalar(select(func.count()).select_from(
        query.where(or_(FollowUpTask.due_at.is_(None), FollowUpTask.due_at <= now)).order_by(None).subquery())) or 0
    return paginate(session, query.options(joinedload(FollowUpTask.case).joinedload(Case.stratum))), due


def my_open_tasks(session: Session, user_id: int) -> list[FollowUpTask]:
    """Tasks this interviewer has taken and not finished."""
    return list(session.scalars(select(FollowUpTask).where(
        FollowUpTask.assigned_to == user_id, FollowUpTask.status == TaskStatus.IN_PROGRESS)
        .options(joinedload(FollowUpTask.case).joinedload(Case.stratum)).order_by(FollowUpTask.id)))
