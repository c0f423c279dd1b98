"""A call's life as operations inside a transaction the caller owns.

A web request owns its transaction (the Twilio webhooks, the staff console), so these take its
``Session`` and never commit; :class:`calls.service.CallService` runs the same operations in
transactions of its own for the channels that have no request (Asterisk, the simulation). Every
channel and the console go through here, so a call is opened, fed, ended and settled one way:

- :func:`answer` opens (or resumes) the case's interview on an answered call and starts it;
- :func:`interview_of` / :func:`bind` find the interview of a call in progress and bind an engine
  (:func:`bind_live`: on an interview a live call's step read with Core);
- :func:`feed` gives the engine one event (its effects, callbacks included, are stored by
  :class:`~calls.interviews.InterviewSession`);
- :func:`hang_up` ends an interview the resident left;
- :func:`progress` and :func:`settle` hand the call's progress and result to the dialer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from calls.interviews import EngineRun, InterviewSession, LiveInterview, LiveRun, open_interview
from calls.questionnaires import Questionnaires
from dialer import leases
from dialer.attempts import advance
from dialer.outcomes import Applied, apply_result
from dialer.policy import DialPolicy
from dialer.protocol import CallResult
from ivr.engine import Answered, Event, HangUp, Step
from survey.clock import Clock
from survey.models import CallAttempt, Interview, Survey
from survey.vocabulary import InterviewStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Turn:
    """The engine's answer to one event, and what the call's result will need of it."""

    step: Step
    reported_status: str | None  # CallResult.interview_status if the call ended now
    callback_at: datetime | None  # the dialling time the resident chose, once they chose it


class Unread:
    """A value the caller did not read (see :func:`answer` and :func:`bind`)."""


UNREAD: Final = Unread()


def answer(session: Session, attempt: CallAttempt, questionnaires: Questionnaires, clock: Clock, *,
           can_transfer: bool, recorded: bool = False, opened: Interview | None | Unread = UNREAD
           ) -> tuple[InterviewSession, Turn]:
    """The call was answered by a person: open (or resume) the case's interview and start it.
    A call answered twice (a channel adopted again after a crash) goes on with the interview this
    call opened, whatever its status: an interview that ended is never opened anew, its
    resident hears the closing words and the call's result reports how it ended. A call taken
    back meanwhile (its worker taken for dead) holds its case again while it goes on
    (:func:`dialer.leases.hold_adopted`).

    ``opened``: the interview this call opened (None: none yet), when the caller read it already
    (:func:`interview_of`), as a webhook does under its lock; else it is looked up. A new
    interview is inserted at the session's next flush, with the state its first event leaves
    (one INSERT, no UPDATE after it)."""
    if leases.hold_adopted(attempt, clock.now(), lambda: _lease_for(session, attempt.survey_id)):
        log.info("attempt %s: taken back, adopted again: its case is held until the call ends", attempt.id)
    questionnaire = questionnaires.of(session, attempt.survey_id)
    interview = interview_of(session, attempt) if isinstance(opened, Unread) else opened
    interview = interview or open_interview(session, attempt.case, questionnaire, clock, attempt_id=attempt.id,
                                            insert_now=False)
    run = bind(session, interview, questionnaires, clock, can_transfer=can_transfer, recorded=recorded,
               case_language=attempt.case.language)  # the interview's case (a new one's is not loaded)
    return run, feed(run, Answered())


def _lease_for(session: Session, survey_id: int) -> timedelta:
    survey = session.get(Survey, survey_id)
    assert survey is not None
    return timedelta(seconds=DialPolicy.from_survey(survey).pacing.lease_seconds)


def bind(session: Session, interview: Interview, questionnaires: Questionnaires, clock: Clock, *,
         can_transfer: bool, recorded: bool = False, case_language: str | None | Unread = UNREAD) -> InterviewSession:
    """An engine on ``interview`` as stored; the language menu only for a case without one (its
    ``case_language``, when the caller read it: else the interview's case is loaded for it).
    ``recorded``: the whole call is recorded (the resident is told so)."""
    language = interview.case.language if isinstance(case_language, Unread) else case_language
    return InterviewSession(session, interview, questionnaires.of(session, interview.survey_id), clock,
                            can_transfer=can_transfer, ask_language=language is None, recorded=recorded)


def bind_live(session: Session, interview: LiveInterview, questionnaires: Questionnaires, clock: Clock, *,
              can_transfer: bool, recorded: bool, case_language: str | None) -> LiveRun:
    """:func:`bind` for one event of a live call on an interview read with Core
    (:class:`~calls.interviews.LiveRun`: :class:`~calls.interviews.NeedsSession` when the event
    needs more than its answer and status stored)."""
    return LiveRun(session, interview, questionnaires.of(session, interview.survey_id), clock,
                   can_transfer=can_transfer, ask_language=case_language is None, recorded=recorded)


def interview_of(session: Session, attempt: CallAttempt) -> Interview | None:
    """The interview this call opened or resumed, if it got that far."""
    return session.scalars(select(Interview).where(Interview.case_id == attempt.case_id,
                                                   Interview.last_attempt_id == attempt.id)
                           .order_by(Interview.id.desc()).limit(1)).first()


def feed(run: EngineRun, event: Event) -> Turn:
    step = run.handle(event)
    return Turn(step, run.engine.reported_status, run.callback_at)


def hang_up(run: EngineRun) -> str | None:
    """The call ended: an interview still in progress stops where it is (resumable). Returns
    the interview status the call's result reports."""
    if run.interview.status == InterviewStatus.IN_PROGRESS:
        run.handle(HangUp())
    return run.engine.reported_status


def progress(session: Session, attempt_id: int, status: str, clock: Clock) -> bool:
    """The attempt moved forward (ringing, answered); never backwards. One UPDATE."""
    return advance(session, attempt_id, status, clock.now())


def settle(session: Session, attempt_id: int, result: CallResult, clock: Clock) -> Applied | None:
    """The call is over: the dialer codes it and moves the case on (idempotent)."""
    return apply_result(session, attempt_id, result, clock)
