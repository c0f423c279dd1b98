"""Small helpers shared by the web tests."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from survey.models import FollowUpTask, TaskStatus


def only_due(sessions: sessionmaker[Session], *keep: int) -> None:
    """Leave only the tasks ``keep`` open, so that "next case" takes them."""
    with sessions.begin() as s:
        s.execute(update(FollowUpTask).where(FollowUpTask.id.not_in(keep), FollowUpTask.status == TaskStatus.OPEN)
                  .values(status=TaskStatus.CANCELLED))
