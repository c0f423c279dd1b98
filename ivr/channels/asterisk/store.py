"""The database work of the Stasis app. Every method is synchronous and is its own transaction;
the app runs them off the event loop (``anyio.to_thread``), one per call event, so an answer is
committed the moment it is given."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dialer.attempts import note_progress
from dialer.outcomes import apply_result
from dialer.policy import DialPolicy
from dialer.schedule import ScheduleError, callback_time
from ivr.channels.base import CallResult
from ivr.engine import Answered, Event, Step
from ivr.interviews import InterviewSession, open_interview
from survey.clock import Clock
from survey.db import session_scope
from survey.models import CallAttempt, Case, Interview, Survey
from survey.questionnaire import Questionnaire
from survey.surveys import survey_questionnaire

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Turn:
    """The engine's answer to one event."""

    step: Step
    interview_id: int
    reported_status: str | None  # CallResult.interview_status if the call ended now
    callback_at: datetime | None  # a callback time the resident chose with this event


class CallStore:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, *, can_transfer: bool) -> None:
        self.sessions, self.clock, self.can_transfer = sessions, clock, can_transfer
        self._questionnaires: dict[int, Questionnaire] = {}
        self._lock = threading.Lock()

    def progress(self, attempt_id: int, status: str) -> None:
        """Move the attempt forward (ringing, in progress); never backwards."""
        self._retry(lambda s: note_progress(s, attempt_id, status, self.clock.now()))

    def begin(self, attempt_id: int) -> Turn:
        """Open (or resume) the case's interview for an answered call and start it."""
        def run(s: Session) -> Turn:
            attempt = s.get(CallAttempt, attempt_id)
            if attempt is None:
                raise LookupError(f"no call attempt {attempt_id}")
            questionnaire = self._questionnaire(s, attempt.survey_id)
            interview = open_interview(s, attempt.case, questionnaire, self.clock, attempt_id=attempt.id)
            return self._turn(s, attempt.case, interview, questionnaire, Answered())
        return self._retry(run)

    def handle(self, interview_id: int, event: Event) -> Turn:
        def run(s: Session) -> Turn:
            interview = s.get(Interview, interview_id)
            if interview is None:
                raise LookupError(f"no interview {interview_id}")
            return self._turn(s, interview.case, interview, self._questionnaire(s, interview.survey_id), event)
        return self._retry(run)

    def finish(self, attempt_id: int, result: CallResult) -> None:
        """Hand the call's result to the dialer (AAPOR disposition, retry or final code)."""
        self._retry(lambda s: apply_result(s, attempt_id, result, self.clock))

    def _turn(self, s: Session, case: Case, interview: Interview, questionnaire: Questionnaire,
              event: Event) -> Turn:
        run = InterviewSession(s, interview, questionnaire, self.clock, can_transfer=self.can_transfer,
                               ask_language=case.language is None)
        step = run.handle(event)
        callback = self._book_callback(s, case, run.callback_slot)
        return Turn(step, interview.id, run.engine.reported_status, callback)

    def _book_callback(self, s: Session, case: Case, slot: str | None) -> datetime | None:
        """Keep the resident's chosen time on the case at once, as the Twilio channel does."""
        if slot is None:
            return None
        survey = s.get(Survey, case.survey_id)
        assert survey is not None
        try:
            case.callback_at = callback_time(slot, self.clock.now(), DialPolicy.from_survey(survey))
        except ScheduleError as exc:
            log.warning("case %s: callback %s not booked: %s", case.id, slot, exc)
            return None
        return case.callback_at

    def _questionnaire(self, s: Session, survey_id: int) -> Questionnaire:
        with self._lock:
            cached = self._questionnaires.get(survey_id)
        if cached is None:
            survey = s.get(Survey, survey_id)
            assert survey is not None
            cached = survey_questionnaire(survey)
            with self._lock:
                self._questionnaires[survey_id] = cached
        return cached

    def _retry(self, work: Callable[[Session], T], tries: int = 3) -> T:
        """One transaction, tried again when the database was locked or a deadlock was broken."""
        for attempt in range(tries):
            try:
                with session_scope(self.sessions) as s:
                    return work(s)
            except OperationalError:
                if attempt == tries - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")
