"""Lists that page and filter: how many rows match, one page of them, and the filters every staff
list offers (township, status, a date range). Templates show them with the macros of
``_listing.html`` ("showing X–Y of N", previous / next links, the filter form)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

from flask import request
from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from survey.clock import from_local
from survey.models import Stratum
from web.context import centre_zone
from web.request_values import plausible
from web.scope import Scope

T = TypeVar("T")
PAGE_SIZE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int  # 1-based
    size: int
    total: int

    @property
    def first(self) -> int:
        """The position of the page's first row in the whole list (0 when the list is empty)."""
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number * self.size < self.total else None


def paginate(session: Session, query: Select[T], size: int = PAGE_SIZE) -> Page[T]:
    """The page of ``query`` asked for by the request's ``page`` argument (past the end: the last page)."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, -(-total // size))
    number = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    items = list(session.scalars(query.limit(size).offset((number - 1) * size)).unique())
    return Page(items, number, size, total)


def _day(name: str) -> date | None:
    try:
        day = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return day if plausible(day) else None


@dataclass(frozen=True)
class Filters:
    """The list filters of the request: a township code, a status, and local dates (both included)."""

    township: str
    status: str
    since: date | None
    until: date | None

    @classmethod
    def from_request(cls, status: str = "") -> Filters:
        return cls(request.args.get("township", ""), request.args.get("status", status), _day("since"), _day("until"))

    def in_township(self, stratum_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        if not self.township:
            return true()
        return stratum_id.in_(select(Stratum.id).where(Stratum.code == self.township))

    def between(self, column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
                ) -> ColumnElement[bool]:
        clause: ColumnElement[bool] = true()
        if self.since:
            clause = clause & (column >= from_local(datetime.combine(self.since, time()), centre_zone()))
        if self.until:
            end = datetime.combine(self.until + timedelta(days=1), time())
            clause = clause & (column < from_local(end, centre_zone()))
        return clause


def townships(session: Session, scope: Scope, survey_id: int | None = None) -> list[Any]:
    """(code, name_zh, name_en) of the townships a user may filter by (of one survey, or of all)."""
    query = select(Stratum.code, Stratum.name_zh, Stratum.name_en).where(scope.strata())
    if survey_id is not None:
        query = query.where(Stratum.survey_id == survey_id)
    return list(session.execute(query.distinct().order_by(Stratum.code)).all())
