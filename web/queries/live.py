"""The supervisor's live view of one survey round, as one JSON-able snapshot.

Dialer counters and quota progress come from the dialer (``dialer.stats``, ``dialer.quotas``),
outcome rates from ``reports.dispositions`` (as in the bulletin); per question, from the answers stored the moment they are
given: the re-prompt rate (answers that needed a re-prompt), the timeout rate (no usable key
after every re-prompt: status ``no_answer``) and the break-off rate (interviews that stopped at
the question, partial or broken off, among those that reached it).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from flask import url_for
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from analysis.results import COUNTY
from dialer.quotas import progress
from dialer.stats import final_dispositions, live_counters
from reports.dispositions import survey_rates
from survey import aapor
from survey.clock import from_local, to_local
from survey.models import Answer, CallAttempt, Case, FollowUpTask, Interview, StaffCall, Stratum, Survey, User
from survey.questionnaire import Questionnaire
from survey.questionnaire import model as qm
from survey.vocabulary import (
    STAFF_CALL_LIVE,
    AnswerStatus,
    AttemptStatus,
    InterviewStatus,
    StaffCallState,
    TaskStatus,
)
from web.labels import term
from web.scope import Scope

RUNNING = (AttemptStatus.QUEUED, AttemptStatus.INITIATED, AttemptStatus.RINGING, AttemptStatus.IN_PROGRESS)
RATES = ("RR1", "RR3", "COOP1", "REF1", "CON1")
STOPPED = (InterviewStatus.PARTIAL, InterviewStatus.BREAK_OFF)


def local_midnight(now: datetime, tz: str) -> datetime:
    local = to_local(now, tz)
    return from_local(local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None), tz)


def snapshot(session: Session, survey: Survey, q: Questionnaire, now: datetime, lang: str,
             within: Scope, zone: str) -> dict[str, Any]:
    """The figures of the round; a user limited to some townships sees those townships' rows (and
    the county's). "Today" is the survey's calling day; ``at`` is in the centre's zone ``zone``."""
    since = local_midnight(now, survey.timezone)
    counters = live_counters(session, survey, now)
    staff_calls = session.scalar(select(func.count()).select_from(CallAttempt).where(
        CallAttempt.survey_id == survey.id, CallAttempt.status.in_(RUNNING),
        CallAttempt.worker.like("staff:%"))) or 0
    return {
        "at": to_local(now, zone).strftime("%Y-%m-%d %H:%M:%S"),
        "status": survey.status,
        "dialer": {"window_open": counters.window_open, "lines_in_use": counters.lines_in_use,
                   "staff_calls": int(staff_calls), "lines": _lines(survey), "due": counters.due,
                   "dialable": counters.dialable, "callbacks_due": counters.callbacks_due,
                   "follow_up": counters.follow_up, "final": counters.final, "total": counters.total},
        "townships": [{"code": p.code, "name": p.name, "quota": p.quota, "completes": p.completes,
                       "ratio": round(p.ratio, 4), "filled": p.filled}
                      for p in within.only(progress(session, survey.id), lambda p: p.code)],
        "rates": _rates(session, survey, within),
        "dispositions": _dispositions(session, survey, since, lang),
        "tasks": _tasks(session, survey),
        "interviewers": _interviewers(session, survey, since),
        "questions": question_stats(session, survey, q, lang),
        "live_staff_calls": live_staff_calls(session, survey, within, zone),
    }


def live_staff_calls(session: Session, survey: Survey, within: Scope, zone: str) -> list[dict[str, Any]]:
    """The calls the system is carrying for interviewers now, in the townships in scope; a bridged
    one may be listened in on (``listen``: the action's URL)."""
    rows = session.execute(
        select(StaffCall, User, Stratum).join(Case, Case.id == StaffCall.case_id)
        .join(Stratum, Stratum.id == Case.stratum_id).join(User, User.id == StaffCall.staff_id)
        .where(Case.survey_id == survey.id, StaffCall.state.in_(STAFF_CALL_LIVE), within.where(Case))
        .order_by(StaffCall.placed_at, StaffCall.id)).all()
    return [{"id": call.id, "staff": staff.display_name or staff.username, "township": stratum.name_zh,
             "state": term("staff_call", call.state), "since": to_local(call.placed_at, zone).strftime("%H:%M:%S"),
             "listen": url_for("live.listen", call_id=call.id) if call.state == StaffCallState.TALKING else None}
            for call, staff, stratum in rows]


def _lines(survey: Survey) -> int:
    trunks = (survey.pacing or {}).get("trunks") or [{"lines": 10}]
    return int(sum(int(t.get("lines", 10)) for t in trunks))


def _rates(session: Session, survey: Survey, within: Scope) -> list[dict[str, Any]]:
    """AAPOR rates per township and for the county, counted as the bulletin counts them."""
    names = {s.code: s.name_zh for s in survey.strata}
    rates = [r for r in survey_rates(session, survey) if r.stratum == COUNTY or within.has(r.stratum)]
    return [{"stratum": r.stratum, "name": names.get(r.stratum, r.stratum), "e": r.e,
             **{k: r.rates.get(k) for k in RATES}} for r in rates]


def _dispositions(session: Session, survey: Survey, since: datetime, lang: str) -> list[dict[str, Any]]:
    """Today's attempts by temporary code, beside the final codes so far (from the counts the
    database keeps)."""
    today = Counter({str(code): int(n) for code, n in session.execute(
        select(CallAttempt.temp_disposition, func.count()).where(
            CallAttempt.survey_id == survey.id, CallAttempt.started_at >= since,
            CallAttempt.temp_disposition.is_not(None)).group_by(CallAttempt.temp_disposition))})
    final = final_dispositions(session, survey.id)
    codes = sorted(set(today) | set(final), key=lambda c: [int(x) for x in str(c).split(".")])
    return [{"code": c, "label": _disposition_label(str(c), lang), "today": today.get(c, 0),
             "final": final.get(c, 0)} for c in codes]


def _disposition_label(code: str, lang: str) -> str:
    d = aapor.DISPOSITIONS.get(code)
    return (d.zh if lang == "zh" else d.en) if d else code


def _tasks(session: Session, survey: Survey) -> dict[str, int]:
    rows = session.execute(select(FollowUpTask.kind, func.count()).where(
        FollowUpTask.survey_id == survey.id, FollowUpTask.status.in_((TaskStatus.OPEN, TaskStatus.IN_PROGRESS)))
        .group_by(FollowUpTask.kind)).all()
    return {str(kind): int(n) for kind, n in rows}


def _interviewers(session: Session, survey: Survey, since: datetime) -> list[dict[str, Any]]:
    """Per staff member with activity today: calls, completes, and whether on a call now."""
    calls = dict(session.execute(select(CallAttempt.worker, func.count()).where(
        CallAttempt.survey_id == survey.id, CallAttempt.started_at >= since, CallAttempt.worker.like("staff:%"))
        .group_by(CallAttempt.worker)).all())
    busy = set(session.scalars(select(CallAttempt.worker).where(
        CallAttempt.survey_id == survey.id, CallAttempt.status.in_(RUNNING), CallAttempt.worker.like("staff:%"))))
    completes = dict(session.execute(select(Interview.interviewer_id, func.count()).where(
        Interview.survey_id == survey.id, Interview.status == InterviewStatus.COMPLETE,
        Interview.completed_at >= since, Interview.interviewer_id.is_not(None))
        .group_by(Interview.interviewer_id)).all())
    ids = {int(str(w).split(":")[1]) for w in calls} | {int(str(i)) for i in completes}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return sorted(({"name": users[i].display_name or users[i].username, "calls": calls.get(f"staff:{i}", 0),
                    "completes": completes.get(i, 0), "on_call": f"staff:{i}" in busy}
                   for i in ids if i in users), key=lambda r: str(r["name"]))


def question_stats(session: Session, survey: Survey, q: Questionnaire, lang: str) -> list[dict[str, Any]]:
    answered = {row[0]: row[1:] for row in session.execute(
        select(Answer.question_id, func.count(),
               func.sum(case((Answer.reprompts > 0, 1), else_=0)),
               func.sum(case((Answer.status == AnswerStatus.NO_ANSWER, 1), else_=0)))
        .join(Interview, Interview.id == Answer.interview_id).where(Interview.survey_id == survey.id)
        .group_by(Answer.question_id))}
    stopped = dict(session.execute(select(Interview.current_question, func.count()).where(
        Interview.survey_id == survey.id, Interview.status.in_(STOPPED), Interview.current_question.is_not(None))
        .group_by(Interview.current_question)).all())
    out = []
    for question in q.questions:
        if question.type == qm.MESSAGE:
            continue
        n, reprompted, timed_out = answered.get(question.id, (0, 0, 0))
        broke = int(stopped.get(question.id, 0))
        reached = int(n) + broke
        out.append({"id": question.id, "label": qm.text_in(question.label or question.text, lang)[:40],
                    "reached": reached, "answers": int(n),
                    "reprompt_rate": _share(reprompted, n), "timeout_rate": _share(timed_out, n),
                    "breakoff_rate": _share(broke, reached), "breakoffs": broke})
    return out


def _share(part: Any, whole: Any) -> float | None:
    return round(float(part or 0) / float(whole), 4) if whole else None

