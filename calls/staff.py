"""The interviewer's work on one follow-up task: take it, interview (CATI or door-to-door) with
the same engine as the IVR, record what happened on the call, or give the task back.

A taken task holds one open :class:`CallAttempt` (channel ``cati`` or ``f2f``, worker
``staff:<user id>``); the disposition closes it through ``dialer.outcomes.apply_result`` so a
staff call moves the case exactly as an IVR call would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, true, update
from sqlalchemy.orm import Session

from calls.callbacks import agree_callback
from calls.interviews import InterviewSession, open_interview
from dialer.cases import DIALABLE
from dialer.followup import OUTLIVE_ROUND, open_tasks
from dialer.outcomes import Applied, apply_result
from dialer.protocol import CallResult
from ivr.engine import Answered, Digits, HangUp, Phase, RecordingDone, Step
from office import concerns
from survey import audit
from survey.clock import Clock
from survey.errors import Refused
from survey.models import Answer, CallAttempt, Case, Concern, DoNotCall, FollowUpTask, Interview, Survey
from survey.questionnaire import Questionnaire
from survey.questionnaire import model as qm
from survey.vocabulary import (
    AnswerStatus,
    AttemptStatus,
    CallStatus,
    CaseStatus,
    InterviewMode,
    InterviewStatus,
    SurveyStatus,
    TaskKind,
    TaskStatus,
)

I = InterviewStatus  # noqa: E741

# outcome -> (call status, interview status reported with it; None = the interview's own)
DISPOSITIONS: dict[str, tuple[str, str | None]] = {
    "complete": (CallStatus.ANSWERED, I.COMPLETE),
    "partial": (CallStatus.ANSWERED, None),
    "callback": (CallStatus.ANSWERED, I.CALLBACK),
    "refusal": (CallStatus.ANSWERED, I.REFUSED),
    "screened_out": (CallStatus.ANSWERED, I.SCREENED_OUT),
    "opt_out": (CallStatus.ANSWERED, I.OPTED_OUT),
    "no_answer": (CallStatus.NO_ANSWER, None),
    "busy": (CallStatus.BUSY, None),
    "machine": (CallStatus.MACHINE, None),
    "non_working": (CallStatus.NON_WORKING, None),
    "failed": (CallStatus.FAILED, None),  # coded by the system for a staff-placed call (calls/staff_lines.py)
}
RETRY_REVISIT_AFTER_MINUTES = 120


class ConsoleError(Refused):
    """What the interviewer asked cannot be done; the message says why."""


@dataclass(frozen=True)
class Staff:
    id: int
    username: str

    @property
    def worker(self) -> str:
        return f"staff:{self.id}"


def claim_next(session: Session, staff: Staff, clock: Clock,
               within: ColumnElement[bool] | None = None) -> FollowUpTask | None:
    """Take the most urgent due task (among those ``within`` allows: the interviewer's townships);
    None when nothing is due. Safe against two interviewers pressing "next" at once: the
    conditional UPDATE lets only one of them have it."""
    now = clock.now()
    candidates = session.scalars(open_tasks(staff.id).where(
        or_(FollowUpTask.due_at.is_(None), FollowUpTask.due_at <= now), within if within is not None else true())
        .limit(25)).all()
    for task in candidates:
        if _obsolete(session, task):
            task.status, task.closed_at = TaskStatus.CANCELLED, now
            continue
        taken = session.execute(update(FollowUpTask).where(
            FollowUpTask.id == task.id, FollowUpTask.status == TaskStatus.OPEN)
            .values(status=TaskStatus.IN_PROGRESS, assigned_to=staff.id)
            .execution_options(synchronize_session=False))
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(task)
            _open_attempt(session, task, staff, InterviewMode.CATI, now)
            return task
    return None


def _obsolete(session: Session, task: FollowUpTask) -> bool:
    """A task whose number has asked never to be called again, or whose case was finalised
    meanwhile; except a revisit (it is about a concern, not the case) and a staff callback of a
    closed round (closing coded the case; the promise to call stands)."""
    case = task.case
    if session.get(DoNotCall, case.contact.number_hash) is not None:
        return True
    if task.kind == TaskKind.REVISIT:
        return False
    if task.kind in OUTLIVE_ROUND and session.scalar(select(Survey.status).where(
            Survey.id == task.survey_id)) == SurveyStatus.CLOSED:
        return False
    return case.status == CaseStatus.FINAL


def _open_attempt(session: Session, task: FollowUpTask, staff: Staff, channel: str, now: datetime) -> None:
    case = task.case
    if case.status in DIALABLE:
        case.status, case.next_attempt_at = CaseStatus.FOLLOW_UP, None  # with staff: the dialer keeps off
    if task.kind != TaskKind.REVISIT:  # a revisit call is not a survey attempt
        _count_attempt(case, +1)
    session.add(CallAttempt(case_id=case.id, survey_id=case.survey_id, channel=channel, worker=staff.worker,
                            status=AttemptStatus.IN_PROGRESS, started_at=now))
    session.flush()


def _count_attempt(case: Case, step: int) -> None:
    """Count a staff call in the case's attempts, as the dialer counts its own (the scheduler
    reads day-parts and dates from the attempts' start times)."""
    case.attempts = max(case.attempts + step, 0)


def current_attempt(session: Session, task: FollowUpTask, staff: Staff) -> CallAttempt | None:
    return session.scalars(select(CallAttempt).where(
        CallAttempt.case_id == task.case_id, CallAttempt.worker == staff.worker,
        CallAttempt.status == AttemptStatus.IN_PROGRESS).order_by(CallAttempt.id.desc()).limit(1)).first()


def _attempt(session: Session, task: FollowUpTask, staff: Staff) -> CallAttempt:
    attempt = current_attempt(session, task, staff)
    if attempt is None:
        raise ConsoleError("this task has no open call; take it again from the queue")
    return attempt


def live_interview(session: Session, task: FollowUpTask, staff: Staff) -> Interview | None:
    """The interview this interviewer is conducting on the task's open call, if any."""
    attempt = current_attempt(session, task, staff)
    if attempt is None or task.interview_id is None:
        return None
    interview = session.get(Interview, task.interview_id)
    if interview is None or interview.last_attempt_id != attempt.id or interview.interviewer_id != staff.id:
        return None
    return interview


def start_interview(session: Session, task: FollowUpTask, staff: Staff, q: Questionnaire, clock: Clock,
                    mode: str) -> Step:
    """Open the case's partial interview (or a new one) in ``mode`` and go to the exact question
    where it stopped; the resident is not asked to choose a language or to "press 1 to continue"."""
    if task.kind == TaskKind.REVISIT:
        raise ConsoleError("a revisit call asks about the concern, not the questionnaire")
    if mode not in (InterviewMode.CATI, InterviewMode.F2F):
        raise ConsoleError("unknown interview mode %(mode)r", mode=mode)
    attempt = _attempt(session, task, staff)
    if live_interview(session, task, staff) is not None:
        raise ConsoleError("the interview is already open")
    interview = open_interview(session, task.case, q, clock, mode=mode, attempt_id=attempt.id,
                               interviewer_id=staff.id)
    task.interview_id, attempt.channel = interview.id, mode
    runner = _runner(session, interview, q, clock, staff)
    step = runner.handle(Answered())
    if runner.engine.phase == Phase.RESUME:
        step = runner.handle(Digits("1"))
    return step


def _runner(session: Session, interview: Interview, q: Questionnaire, clock: Clock, staff: Staff) -> InterviewSession:
    return InterviewSession(session, interview, q, clock, ask_language=False, user_id=staff.id, interviewer=True)


def _live(session: Session, task: FollowUpTask, staff: Staff) -> Interview:
    interview = live_interview(session, task, staff)
    if interview is None or interview.status != I.IN_PROGRESS:
        raise ConsoleError("no interview is open on this task")
    return interview


def enter_keys(session: Session, task: FollowUpTask, staff: Staff, q: Questionnaire, clock: Clock,
               keys: str) -> Step:
    """The keys a resident would press on the phone (digits, ``#`` to end a list or a number)."""
    interview = _live(session, task, staff)
    keys = keys.strip()
    if not keys or any(k not in "0123456789#" for k in keys):
        raise ConsoleError("enter the answer's key(s): digits, and # to end a list or a number")
    return _runner(session, interview, q, clock, staff).handle(Digits(keys))


def enter_open_answer(session: Session, task: FollowUpTask, staff: Staff, q: Questionnaire, clock: Clock,
                      text: str) -> Step:
    """An open question in CATI: the interviewer types what the resident says (kept in the
    answer's ``raw_input``, up to 200 characters; raise a concern for anything longer)."""
    interview = _live(session, task, staff)
    qid = interview.current_question
    if qid is None or q.question(qid).type != qm.OPEN:
        raise ConsoleError("the current question is not an open question")
    step = _runner(session, interview, q, clock, staff).handle(RecordingDone(None, 0.0))
    answer = session.scalars(select(Answer).where(Answer.interview_id == interview.id,
                                                  Answer.question_id == qid)).one()
    if text.strip():
        answer.status, answer.raw_input = AnswerStatus.ANSWERED, text.strip()[:200]
    return step


def record_disposition(session: Session, task: FollowUpTask, staff: Staff, q: Questionnaire, clock: Clock,
                       outcome: str, *, callback_at: datetime | None = None, staff_callback: bool = True,
                       note: str = "") -> Applied | None:
    """Close the task's call with ``outcome`` and move the case on (``dialer.outcomes``)."""
    if outcome not in DISPOSITIONS:
        raise ConsoleError("unknown outcome %(outcome)r", outcome=outcome)
    if task.kind == TaskKind.REVISIT:
        raise ConsoleError("record the revisit's answer for each concern instead")
    status, reported = DISPOSITIONS[outcome]
    interview = live_interview(session, task, staff)
    _check_outcome(outcome, interview, callback_at, clock.now())
    attempt = _attempt(session, task, staff)
    if interview is not None and interview.status == I.IN_PROGRESS:
        _runner(session, interview, q, clock, staff).handle(HangUp())
    now = clock.now()
    answered = status == CallStatus.ANSWERED
    result = CallResult(status=status, started_at=attempt.started_at, ended_at=now,
                        answered_at=(attempt.answered_at or attempt.started_at) if answered else None,
                        interview_status=(reported or (interview.status if interview else None)) if answered else None,
                        callback_at=callback_at if outcome == "callback" else None)
    applied = apply_result(session, attempt.id, result, clock)
    _close_task(task, now, staff, f"{outcome}: {note}".strip(": "))
    if outcome == "callback" and staff_callback and callback_at is not None:
        callback = agree_callback(session, task.case, staff_id=staff.id, staff_name=staff.username, when=callback_at,
                                  now=now, interview_id=task.interview_id)
        if callback is not None and note.strip():  # what was said on the call, for the one who calls back
            _append_note(callback, now, staff, f"callback: {note.strip()}")
    case = task.case
    audit.record(session, clock, user_id=staff.id, action="disposition_recorded", entity="case",
                 entity_id=case.id, after={"attempt_id": attempt.id, "outcome": outcome,
                                           "temp_disposition": attempt.temp_disposition,
                                           "case_status": case.status, "final_disposition": case.final_disposition})
    return applied


def _check_outcome(outcome: str, interview: Interview | None, callback_at: datetime | None, now: datetime) -> None:
    if outcome == "complete" and (interview is None or interview.status != I.COMPLETE):
        raise ConsoleError("the interview is not complete yet: answer the remaining questions first")
    if outcome == "partial" and (interview is None or interview.status == I.COMPLETE):
        raise ConsoleError("no unfinished interview on this call")
    if outcome != "complete" and interview is not None and interview.status == I.COMPLETE:
        raise ConsoleError("the interview is complete: record the call as complete")
    if outcome == "callback" and (callback_at is None or callback_at <= now):
        raise ConsoleError("give a callback time in the future")


def _close_task(task: FollowUpTask, now: datetime, staff: Staff, line: str) -> None:
    task.status, task.closed_at = TaskStatus.DONE, now
    _append_note(task, now, staff, line)


def record_revisit_answer(session: Session, task: FollowUpTask, staff: Staff, clock: Clock, concern: Concern,
                          result: str, note: str) -> None:
    """The resident's answer on a revisit call (回访) for one of the case's resolved concerns; when
    none is left the task is done (``office.concerns``) and the call is closed."""
    if task.kind != TaskKind.REVISIT or concern.case_id != task.case_id:
        raise ConsoleError("this concern does not belong to this revisit task")
    attempt = _attempt(session, task, staff)
    concerns.record_revisit(session, concern, clock, user_id=staff.id, result=result, note=note)
    if task.status == TaskStatus.DONE:
        attempt.status, attempt.outcome, attempt.ended_at = AttemptStatus.COMPLETED, "revisit", clock.now()
        attempt.answered_at = attempt.started_at


def revisit_not_reached(session: Session, task: FollowUpTask, staff: Staff, clock: Clock) -> None:
    """Nobody answered the revisit call: close the call, and queue the task again for later."""
    if task.kind != TaskKind.REVISIT:
        raise ConsoleError("this is not a revisit task")
    attempt = _attempt(session, task, staff)
    now = clock.now()
    attempt.status, attempt.outcome, attempt.ended_at = AttemptStatus.NO_ANSWER, CallStatus.NO_ANSWER, now
    task.status, task.assigned_to = TaskStatus.OPEN, None
    task.due_at = now + timedelta(minutes=RETRY_REVISIT_AFTER_MINUTES)
    _append_note(task, now, staff, "revisit: no answer")


def release(session: Session, task: FollowUpTask, staff: Staff, clock: Clock) -> None:
    """Give a task back without calling: the open attempt is withdrawn (it never happened)."""
    attempt = _attempt(session, task, staff)
    if live_interview(session, task, staff) is not None:
        raise ConsoleError("an interview was started on this call: record what happened instead")
    case = task.case
    if task.kind != TaskKind.REVISIT:
        _count_attempt(case, -1)
    session.delete(attempt)
    task.status, task.assigned_to = TaskStatus.OPEN, None
    session.flush()


def add_note(task: FollowUpTask, staff: Staff, clock: Clock, text: str) -> None:
    if not text.strip():
        raise ConsoleError("the note is empty")
    _append_note(task, clock.now(), staff, text.strip())


def _append_note(task: FollowUpTask, now: datetime, staff: Staff, line: str) -> None:
    stamp = now.strftime("%Y-%m-%d %H:%M")
    task.note = f"{task.note}\n[{stamp} UTC {staff.username}] {line}".strip()


def owned(task: FollowUpTask, staff: Staff) -> bool:
    """The interviewer holds this task right now (the only time its number is shown)."""
    return task.status == TaskStatus.IN_PROGRESS and task.assigned_to == staff.id


def take_case(session: Session, case: Case, staff: Staff, clock: Clock, kind: str, note: str) -> FollowUpTask:
    """A new task on ``case`` held by ``staff`` at once (door-to-door visits)."""
    now = clock.now()
    task = FollowUpTask(survey_id=case.survey_id, case_id=case.id, kind=kind, status=TaskStatus.IN_PROGRESS,
                        assigned_to=staff.id, due_at=now, created_at=now, note=note)
    session.add(task)
    session.flush()
    _open_attempt(session, task, staff, InterviewMode.F2F, now)
    return task
