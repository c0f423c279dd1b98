"""Lists and counts of residents' concerns, within the user's scope (:mod:`web.scope`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from office.concerns import OPEN
from survey.models import Concern
from survey.vocabulary import CONCERN_ORDER
from web.listing import Filters
from web.scope import Scope


@dataclass(frozen=True)
class Counts:
    by_status: dict[str, int]
    overdue: int
    total: int


def listing(within: Scope, found: Filters, *, overdue_only: bool, now: datetime) -> Select[Concern]:
    """Concerns by deadline (none last), filtered by township, status and the date they came in."""
    query = select(Concern).where(within.where(Concern), found.in_township(Concern.stratum_id),
                                  found.between(Concern.created_at))
    if found.status in CONCERN_ORDER:
        query = query.where(Concern.status == found.status)
    if overdue_only:
        query = query.where(Concern.status.in_(OPEN), Concern.deadline < now)
    return (query.options(joinedload(Concern.stratum), joinedload(Concern.unit))
            .order_by(Concern.deadline.is_(None), Concern.deadline, Concern.id))


def status_counts(session: Session, survey_id: int, within: Scope, now: datetime) -> Counts:
    rows = session.execute(select(Concern.status, Concern.deadline)
                           .where(Concern.survey_id == survey_id, within.where(Concern))).all()
    by_status = Counter(status for status, _ in rows)
    overdue = sum(1 for status, deadline in rows if status in OPEN and deadline is not None and deadline < now)
    return Counts({s: by_status.get(s, 0) for s in CONCERN_ORDER}, overdue, len(rows))
