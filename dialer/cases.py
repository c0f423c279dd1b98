"""Case state changes shared by the dialer's modules: finalise, release a lease, count past attempts
(and read them: :func:`case_attempts`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from operator import itemgetter
from typing import NamedTuple, Protocol, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from dialer.schedule import CaseHistory
from dialer.windows import CallingCalendar
from survey import driver_sql
from survey.models import Base, CallAttempt, Case, Interview
from survey.vocabulary import RESUMABLE, CaseStatus

DIALABLE = (CaseStatus.NEW, CaseStatus.SCHEDULED, CaseStatus.CALLBACK)
OPEN = (*DIALABLE, CaseStatus.LEASED, CaseStatus.FOLLOW_UP)


def status_is(*statuses: CaseStatus) -> ColumnElement[bool]:
    """``cases.status`` is one of ``statuses``, written in the SQL rather than sent as parameters:
    on PostgreSQL ix_cases_due leaves leased rows out and ix_cases_leased holds only them
    (migration 0012), and the generic plan of a prepared statement (psycopg prepares a statement
    run five times) reads a partial index only where the statement's text proves its predicate."""
    values = [literal_column(f"'{status}'", String) for status in statuses]  # the vocabulary's: no quotes
    return Case.status == values[0] if len(values) == 1 else Case.status.in_(values)
_interviews = cast(Table, Interview.__table__)
_RESUMABLE_IDS = (select(_interviews.c.case_id, func.max(_interviews.c.id))
                  .where(_interviews.c.case_id.in_(bindparam("ids", expanding=True)),
                         _interviews.c.status.in_(RESUMABLE))
                  .group_by(_interviews.c.case_id))
_attempts = cast(Table, CallAttempt.__table__)
_ATTEMPT_COLUMNS = tuple(_attempts.c[name] for name in ("case_id", "id", "started_at", "temp_disposition"))


def _attempts_by_case() -> Select[tuple[int, int, datetime, str | None]]:
    """PostgreSQL's read of :func:`case_attempts`: one index read of ``call_attempts`` per case id,
    a sub-select per element of the ids' array that OFFSET 0 keeps from being merged into a join.
    Without table statistics (autovacuum off, or behind a campaign's growth) the planner estimates
    ``case_id IN (...)`` at 0.5 % of the table a value and scans the whole table; the per-id
    sub-select has no such choice to make. Analysed, it is planned as the same index reads."""
    ids = func.unnest(sql_cast(bindparam("ids", type_=ARRAY(Integer)), ARRAY(Integer))).table_valued("id")
    ids = ids.render_derived("k")
    per_case = select(*_ATTEMPT_COLUMNS).where(_attempts.c.case_id == ids.c.id).offset(0).lateral("a")
    return (select(per_case.c.case_id, per_case.c.id, per_case.c.started_at, per_case.c.temp_disposition)
            .select_from(ids).join(per_case, true()))


_CASE_ATTEMPTS_PG = _attempts_by_case()
_CASE_ATTEMPTS = select(*_ATTEMPT_COLUMNS).where(_attempts.c.case_id.in_(bindparam("ids", expanding=True)))
# At most this many cases a statement: unanalysed, PostgreSQL costs each case's index read at 0.5 %
# of the table's rows, and 500 cases of a 300,000-attempt table pass jit_above_cost (then JIT
# compilation takes 100 ms of a statement whose reads take 12).
_CASES_A_READ = 50


class CaseAttempt(NamedTuple):
    case_id: int
    id: int
    started_at: datetime
    temp_disposition: str | None


_ID = itemgetter(1)  # a CaseAttempt's id




def forget(session: Session, model: type[Base], ids: Iterable[int]) -> None:
    """Expire the session's loaded copies of rows that a Core statement just changed, so that
    whoever holds one reads the row again on its next access."""
    if not session.identity_map:  # a worker's Core-only transaction: nothing loaded to expire
        return
    for row_id in ids:
        loaded = session.identity_map.get(identity_key(model, row_id))
        if loaded is not None:
            session.expire(loaded)


class CaseState(Protocol):
    """What fieldwork reads and moves on a case: an ORM ``Case``, or a row that a batch of call
    results writes back with one statement (``dialer.outcomes``)."""

    id: int
    contacted: bool
    status: str
    next_attempt_at: datetime | None
    callback_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    final_disposition: str | None
    final_at: datetime | None
    updated_at: datetime


def release(case: CaseState) -> None:
    case.lease_owner = None
    case.lease_expires_at = None


def finalise(case: CaseState, code: str, now: datetime) -> None:
    """Give ``case`` its final AAPOR code; it is never dialled again."""
    release(case)
    case.status = CaseStatus.FINAL
    case.final_disposition = code
    case.final_at = now
    case.next_attempt_at = None
    case.callback_at = None
    case.updated_at = now


def reschedule(case: CaseState, when: datetime, now: datetime) -> None:
    release(case)
    case.status = CaseStatus.SCHEDULED
    case.next_attempt_at = when
    case.callback_at = None
    case.updated_at = now


def schedule_callback(case: CaseState, when: datetime, now: datetime) -> None:
    """The case waits for its callback: the dialer calls it at ``when`` before other work."""
    release(case)
    case.status = CaseStatus.CALLBACK
    case.callback_at = when
    case.next_attempt_at = when
    case.updated_at = now


def case_history(starts: list[datetime], calendar: CallingCalendar) -> CaseHistory:
    """Attempts per day-part and per local date, from the start times of the case's attempts in
    the order they were made (so a changed day-part definition applies to past attempts too)."""
    local = [calendar.local(s) for s in starts]
    parts = [calendar.local_daypart(t) for t in local]
    return CaseHistory(attempts=len(starts), by_daypart=Counter(parts), by_date=Counter(t.date() for t in local),
                       last_daypart=parts[-1] if parts else None)


def resumable_interviews(session: Session, case_ids: list[int]) -> dict[int, int]:
    """The latest interview that stopped part-way (and goes on at the next call) of each of these
    cases, case id -> interview id (straight from the driver on SQLite, survey/driver_sql.py: the
    dialer asks for every lease, and most cases have none)."""
    return dict(driver_sql.rows(session, _RESUMABLE_IDS, {"ids": case_ids})) if case_ids else {}


def case_attempts(session: Session, case_ids: list[int]) -> list[CaseAttempt]:
    """The call attempts of these cases, in the order they were made (a settlement's read of its
    cases' histories and of the codes of the cases that ran out of attempts)."""
    stmt = _CASE_ATTEMPTS_PG if session.get_bind().dialect.name == "postgresql" else _CASE_ATTEMPTS
    # survey/driver_sql.py: on SQLite straight to the driver (read for every settlement)
    read = [CaseAttempt._make(row) for i in range(0, len(case_ids), _CASES_A_READ)
            for row in driver_sql.rows(session, stmt, {"ids": case_ids[i:i + _CASES_A_READ]})]
    return sorted(read, key=_ID)
