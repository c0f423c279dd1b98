"""Lists and counts of residents' concerns, by who may see them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from office.concerns import OPEN
from survey.models import Concern, Stratum
from survey.vocabulary import CONCERN_ORDER


@dataclass(frozen=True)
class Counts:
    by_status: dict[str, int]
    overdue: int
    total: int


def visible(*, unit_id: int | None = None, scope: list[str] | None = None) -> Select[Concern]:
    """Concerns a user may see: a unit's own, or those of the townships in ``scope`` (None: all)."""
    query = select(Concern).join(Stratum, Stratum.id == Concern.stratum_id)
    if unit_id is not None:
        query = query.where(Concern.unit_id == unit_id)
    if scope:
        query = query.where(Stratum.code.in_(scope))
    return query


def listing(session: Session, query: Select[Any], *, status: str | None, overdue_only: bool,
            now: datetime, limit: int = 300) -> list[Concern]:
    if status in CONCERN_ORDER:
        query = query.where(Concern.status == status)
    if overdue_only:
        query = query.where(Concern.status.in_(OPEN), Concern.deadline < now)
    query = query.options(joinedload(Concern.stratum), joinedload(Concern.unit))
    return list(session.scalars(query.order_by(Concern.deadline.is_(None), Concern.deadline, Concern.id)
                                .limit(limit)))


def status_counts(session: Session, survey_id: int, scope: list[str] | None, now: datetime) -> Counts:
    rows = session.execute(visible(scope=scope).where(Concern.survey_id == survey_id)
                           .with_only_columns(Concern.status, Concern.deadline)).all()
    by_status = Counter(status for status, _ in rows)
    overdue = sum(1 for status, deadline in rows if status in OPEN and deadline is not None and deadline < now)
    return Counts({s: by_status.get(s, 0) for s in CONCERN_ORDER}, overdue, len(rows))
