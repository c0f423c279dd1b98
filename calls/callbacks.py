"""Callbacks: the two ways a resident gets called back, each written once.

- *Respondent-chosen* (the IVR's callback menu: "this evening", "at the weekend"): the slot becomes
  a dialling time inside the survey's calling windows and goes on the case at once; the dialer
  places the call.
- *Staff-set for staff* (a staff member agrees a time on the phone): the case stays with staff
  and a callback task is queued for that staff member at the agreed time; the dialer keeps off it.
- *Staff-set for the dialer* (a supervisor books a time on a case's page): the dialer calls the
  case at that time, before other work.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from dialer.cases import schedule_callback
from dialer.followup import open_task
from dialer.policy import DialPolicy
from dialer.schedule import ScheduleError, callback_time, clamp_to_window
from survey.clock import SystemClock
from survey.models import AuditLog, Case, FollowUpTask, Survey, User
from survey.vocabulary import CaseStatus, TaskKind

log = logging.getLogger(__name__)
_cases = cast(Table, Case.__table__)
_SET_CALLBACK = update(_cases).where(_cases.c.id == bindparam("case_id")).values(callback_at=bindparam("at"))


def book_callback(session: Session, case_id: int, survey_id: int, slot: str, now: datetime) -> datetime | None:
    """Put the resident's chosen ``slot`` on the case as a dialling time; None (and a log line)
    when no calling window is ahead, and the dialer retries by its own rules."""
    survey = session.get(Survey, survey_id)
    assert survey is not None  # a foreign key
    try:
        when = callback_time(slot, now, DialPolicy.from_survey(survey))
    except ScheduleError as exc:
        log.warning("case %s: callback %s not booked: %s", case_id, slot, exc)
        return None
    loaded = session.identity_map.get(identity_key(Case, case_id))
    if isinstance(loaded, Case):
        loaded.callback_at = when
    else:  # the case is not loaded here (a simulated call): no need to read it to set one column
        session.flush()
        session.connection().execute(_SET_CALLBACK, {"case_id": case_id, "at": when})
    return when


def agree_callback(session: Session, case: Case, *, staff_id: int, staff_name: str, when: datetime,
                   now: datetime, interview_id: int | None) -> FollowUpTask | None:
    """A staff member agreed ``when`` with the resident: the case stays with staff and a task is
    queued for them at that time (the IVR will not call it); returns the task, if one was opened."""
    if case.status == CaseStatus.FINAL:
        return None
    case.status, case.next_attempt_at, case.callback_at = CaseStatus.FOLLOW_UP, None, when
    return open_task(session, survey_id=case.survey_id, case_id=case.id, kind=TaskKind.CALLBACK, now=now, due_at=when,
              interview_id=interview_id, assigned_to=staff_id, note=f"callback agreed with {staff_name}")


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
        schedule_callback(case, booked, now)
    session.add(AuditLog(at=now, user_id=user.id if user else None, action="callback_set", entity="case",
                         entity_id=str(case.id), before=before,
                         after={"status": case.status, "callback_at": _iso(booked)}))
    session.flush()
    return booked


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None
