"""Case state changes shared by the dialer's modules: finalise, release a lease, read history."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.schedule import CaseHistory
from dialer.windows import CallingCalendar
from survey.models import CallAttempt, Case, CaseStatus

DIALABLE = (CaseStatus.NEW, CaseStatus.SCHEDULED, CaseStatus.CALLBACK)
OPEN = (*DIALABLE, CaseStatus.LEASED, CaseStatus.FOLLOW_UP)


def release(case: Case) -> None:
    case.lease_owner = None
    case.lease_expires_at = None


def finalise(case: Case, code: str, now: datetime) -> None:
    """Give ``case`` its final AAPOR code; it is never dialled again."""
    release(case)
    case.status = CaseStatus.FINAL
    case.final_disposition = code
    case.final_at = now
    case.next_attempt_at = None
    case.callback_at = None
    case.updated_at = now


def reschedule(case: Case, when: datetime, now: datetime) -> None:
    release(case)
    case.status = CaseStatus.SCHEDULED
    case.next_attempt_at = when
    case.callback_at = None
    case.updated_at = now


def book_callback(case: Case, when: datetime, now: datetime) -> None:
    release(case)
    case.status = CaseStatus.CALLBACK
    case.callback_at = when
    case.next_attempt_at = when
    case.updated_at = now


def history(session: Session, case_id: int, calendar: CallingCalendar) -> CaseHistory:
    """Attempts per day-part and per local date, from the attempts themselves (so a changed
    day-part definition applies to past attempts too)."""
    starts = session.scalars(select(CallAttempt.started_at).where(CallAttempt.case_id == case_id)
                             .order_by(CallAttempt.id)).all()
    parts = [calendar.daypart(s) for s in starts]
    return CaseHistory(attempts=len(starts), by_daypart=Counter(parts),
                       by_date=Counter(calendar.local(s).date() for s in starts),
                       last_daypart=parts[-1] if parts else None)
