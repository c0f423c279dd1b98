"""Which rows a user may see, in one place.

A :class:`Scope` is built from the logged-in user once per request (:func:`scope`). Every read
model filters its lists with :meth:`Scope.where`, and every by-id route loads its row with
:func:`fetch`, which answers 404 for a row out of scope as for one that does not exist, so ids
cannot be probed. A user limited to some townships sees cases, recordings and concerns of those
townships only (an interviewer takes tasks of those townships only), and surveys that have at
least one of them; a responsible unit's account sees its own unit's concerns only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import abort, g
from sqlalchemy import ColumnElement, Select, or_, select, true

from survey.models import (
    CallAttempt,
    Case,
    CaseCount,
    Concern,
    FollowUpTask,
    Interview,
    Recording,
    StaffCall,
    Stratum,
    Survey,
)
from survey.vocabulary import Role
from web.access import user
from web.context import db

Row = TypeVar("Row", Case, Concern, FollowUpTask, Recording, StaffCall, Survey)
Item = TypeVar("Item")


@dataclass(frozen=True)
class Scope:
    townships: frozenset[str] | None = None  # None: every township
    unit_id: int | None = None  # a unit's account: that unit's concerns (-1: a unit account without a unit)

    @property
    def limited(self) -> bool:
        return self.townships is not None

    @property
    def codes(self) -> list[str] | None:
        """The township codes, for the read models that filter a list of figures (None: all)."""
        return sorted(self.townships) if self.townships is not None else None

    def has(self, township: str) -> bool:
        return self.townships is None or township in self.townships

    def strata(self) -> ColumnElement[bool]:
        return true() if self.townships is None else Stratum.code.in_(self.townships)

    def _stratum_ids(self) -> Select[int]:
        return select(Stratum.id).where(self.strata())

    def cases(self) -> ColumnElement[bool]:
        return true() if self.townships is None else Case.stratum_id.in_(self._stratum_ids())

    def case_counts(self) -> ColumnElement[bool]:
        """The counts of cases the database keeps (``CaseCount``) of the townships in scope."""
        return true() if self.townships is None else CaseCount.stratum_id.in_(self._stratum_ids())

    def recordings(self) -> ColumnElement[bool]:
        """Through the interview, or the call attempt of a call recorded without one."""
        if self.townships is None:
            return true()
        return or_(Recording.interview_id.in_(select(Interview.id).join(Case, Case.id == Interview.case_id)
                                              .where(self.cases())),
                   Recording.attempt_id.in_(select(CallAttempt.id).join(Case, Case.id == CallAttempt.case_id)
                                            .where(self.cases())))

    def staff_calls(self) -> ColumnElement[bool]:
        return true() if self.townships is None else StaffCall.case_id.in_(select(Case.id).where(self.cases()))

    def tasks(self) -> ColumnElement[bool]:
        return true() if self.townships is None else FollowUpTask.case_id.in_(select(Case.id).where(self.cases()))

    def concerns(self) -> ColumnElement[bool]:
        mine = true() if self.unit_id is None else Concern.unit_id == self.unit_id
        return mine & (true() if self.townships is None else Concern.stratum_id.in_(self._stratum_ids()))

    def surveys(self) -> ColumnElement[bool]:
        if self.townships is None:
            return true()
        return Survey.id.in_(select(Stratum.survey_id).where(self.strata()))

    def where(self, model: type[Row]) -> ColumnElement[bool]:
        """The clause limiting rows of ``model`` to this scope."""
        clause: Callable[[Scope], ColumnElement[bool]] = _CLAUSES[model]
        return clause(self)

    def only(self, rows: Iterable[Item], code: Callable[[Item], str]) -> list[Item]:
        """The per-township rows of a summary (``code`` names a row's township) within scope."""
        return [row for row in rows if self.has(code(row))]


_CLAUSES: dict[type[Any], Callable[[Scope], ColumnElement[bool]]] = {
    Case: Scope.cases, Recording: Scope.recordings, Concern: Scope.concerns, Survey: Scope.surveys,
    FollowUpTask: Scope.tasks, StaffCall: Scope.staff_calls}


def of_user(role: str, townships: list[str] | None, unit_id: int | None) -> Scope:
    unit = (unit_id if unit_id is not None else -1) if role == Role.UNIT else None
    return Scope(frozenset(townships) if townships else None, unit)


def scope() -> Scope:
    """The logged-in user's scope (views behind :func:`web.access.roles` only), built once per request."""
    if "scope" not in g:
        me = user()
        g.scope = of_user(me.role, me.township_scope, me.unit_id)
    found: Scope = g.scope
    return found


def fetch(model: type[Row], ident: int) -> Row:
    """The row ``ident`` of ``model`` if the user may see it; 404 otherwise (missing or out of scope)."""
    found = db().scalars(select(model).where(model.id == ident, scope().where(model))).first()
    if found is None:
        abort(404)
    return found
