"""Callbacks booked by staff. (A resident's own choice arrives with the call's result; the IVR
turns it into a time with :func:`dialer.schedule.callback_time`.)"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dialer.cases import book_callback
from dialer.policy import DialPolicy
from dialer.schedule import ScheduleError, clamp_to_window
from survey.clock import SystemClock
from survey.models import AuditLog, Case, Survey, User
from survey.vocabulary import CaseStatus


def set_callback(session: Session, case: Case, when: datetime, user: User | None, *,
                 now: datetime | None = None) -> datetime:
    """Book a callback for ``case`` at ``when`` (naive UTC; moved to the next window start when
    outside the calling windows) and return the booked time. The dialer calls it at that time
    before other work. A case in a call right now keeps the booking for after the call."""
    now = now or SystemClock().now()
    if case.status == CaseStatus.FINAL:
        raise ScheduleError(f"case {case.id} is final ({case.final_disposition}); a callback cannot reopen it")
    survey = session.get(Survey, case.survey_id)
    assert survey is not None
    booked = clamp_to_window(DialPolicy.from_survey(survey), max(when, now))
    before = {"status": case.status, "callback_at": _iso(case.callback_at)}
    if case.status == CaseStatus.LEASED:
        case.callback_at = booked
    else:
        book_callback(case, booked, now)
    session.add(AuditLog(at=now, user_id=user.id if user else None, action="callback_set", entity="case",
                         entity_id=str(case.id), before=before,
                         after={"status": case.status, "callback_at": _iso(booked)}))
    session.flush()
    return booked


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None
