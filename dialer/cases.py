"""Case state changes shared by the dialer's modules: finalise, release a lease, count past attempts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from dialer.schedule import CaseHistory
from dialer.windows import CallingCalendar
from survey.models import Base, Interview
from survey.vocabulary import RESUMABLE, CaseStatus

DIALABLE = (CaseStatus.NEW, CaseStatus.SCHEDULED, CaseStatus.CALLBACK)
OPEN = (*DIALABLE, CaseStatus.LEASED, CaseStatus.FOLLOW_UP)
_interviews = cast(Table, Interview.__table__)
_RESUMABLE_IDS = (select(_interviews.c.case_id, func.max(_interviews.c.id))
                  .where(_interviews.c.case_id.in_(bindparam("ids", expanding=True)),
                         _interviews.c.status.in_(RESUMABLE))
                  .group_by(_interviews.c.case_id))




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
    """The latest interview that stopped part-way (and goes on at the next call) of each of these cases, case id -> interview id (a Core query:
    the dialer asks for every call it opens, and most cases have none)."""
    return dict(session.execute(_RESUMABLE_IDS, {"ids": case_ids}).all()) if case_ids else {}
