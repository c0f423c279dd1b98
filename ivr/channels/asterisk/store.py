"""The database work of the Stasis app. Every method is synchronous; the app runs them off the
event loop (``anyio.to_thread``), one at a time per call. A call's interview keeps one session and
one :class:`~calls.interviews.InterviewSession` for the whole call and commits after every event,
so an answer is stored the moment it is given and nothing is loaded twice."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from calls.interviews import InterviewSession, open_interview
from dialer.attempts import note_progress
from dialer.outcomes import apply_result
from dialer.policy import DialPolicy
from dialer.protocol import CallResult
from dialer.schedule import ScheduleError, callback_time
from ivr.engine import Answered, Event, Step
from survey.clock import Clock
from survey.db import session_scope
from survey.models import CallAttempt, Case, Interview, Survey
from survey.questionnaire import Questionnaire
from survey.surveys import survey_questionnaire

log = logging.getLogger(__name__)
T = TypeVar("T")
TRIES = 5  # a locked database, a broken deadlock or a restarting server: tried again over about 4 s


def _pause(attempt: int) -> None:
    time.sleep(0.1 * 3**attempt)


@dataclass(frozen=True)
class Turn:
    """The engine's answer to one event."""

    step: Step
    reported_status: str | None  # CallResult.interview_status if the call ended now
    callback_at: datetime | None  # a callback time the resident chose with this event


class CallInterview:
    """One call's interview: its session and engine, alive from the answer to the hang-up."""

    def __init__(self, session: Session, run: InterviewSession, case: Case) -> None:
        self.session, self.run, self.case = session, run, case
        self.booked = False  # the resident's callback choice is on the case

    @property
    def interview_id(self) -> int:
        return self.run.interview.id


class CallStore:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, *, can_transfer: bool) -> None:
        self.sessions, self.clock, self.can_transfer = sessions, clock, can_transfer

    def progress(self, attempt_id: int, status: str) -> None:
        """Move the attempt forward (ringing, in progress); never backwards."""
        self._retry(lambda s: note_progress(s, attempt_id, status, self.clock.now()))

    def begin(self, attempt_id: int) -> tuple[CallInterview, Turn]:
        """Open (or resume) the case's interview for an answered call and start it."""
        for attempt in range(TRIES):
            session = self.sessions()
            try:
                row = session.get(CallAttempt, attempt_id)
                if row is None:
                    raise LookupError(f"no call attempt {attempt_id}")
                questionnaire = self._questionnaire(session, row.survey_id)
                interview = open_interview(session, row.case, questionnaire, self.clock, attempt_id=row.id)
                call = self._bind(session, interview, questionnaire)
                return call, self._commit(call, Answered())
            except OperationalError:
                session.close()
                if attempt == TRIES - 1:
                    raise
                _pause(attempt)
            except BaseException:
                session.close()
                raise
        raise AssertionError("unreachable")

    def handle(self, call: CallInterview, event: Event) -> tuple[CallInterview, Turn]:
        """Feed one event and commit. When the commit fails for a transient reason, the
        interview is loaded again as last committed and the event fed once more."""
        for attempt in range(TRIES):
            try:
                return call, self._commit(call, event)
            except OperationalError:
                interview_id = call.interview_id
                self.close(call)
                if attempt == TRIES - 1:
                    raise
                _pause(attempt)
                call = self._reload(interview_id)
        raise AssertionError("unreachable")

    def close(self, call: CallInterview) -> None:
        call.session.rollback()
        call.session.close()

    def _reload(self, interview_id: int) -> CallInterview:
        session = self.sessions()
        interview = session.get(Interview, interview_id)
        if interview is None:
            session.close()
            raise LookupError(f"no interview {interview_id}")
        return self._bind(session, interview, self._questionnaire(session, interview.survey_id))

    def _bind(self, session: Session, interview: Interview, questionnaire: Questionnaire) -> CallInterview:
        case = interview.case
        run = InterviewSession(session, interview, questionnaire, self.clock, can_transfer=self.can_transfer,
                               ask_language=case.language is None)
        return CallInterview(session, run, case)

    def _commit(self, call: CallInterview, event: Event) -> Turn:
        try:
            step = call.run.handle(event)
            callback = None
            if call.run.callback_slot and not call.booked:
                callback = self._book_callback(call.session, call.case, call.run.callback_slot)
                call.booked = True
            call.session.commit()
        except BaseException:
            call.session.rollback()
            raise
        return Turn(step, call.run.engine.reported_status, callback)

    def finish(self, attempt_id: int, result: CallResult) -> None:
        """Hand the call's result to the dialer (AAPOR disposition, retry or final code)."""
        self._retry(lambda s: apply_result(s, attempt_id, result, self.clock))

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
        survey = s.get(Survey, survey_id)
        assert survey is not None
        return survey_questionnaire(survey)  # parsed once per process

    def _retry(self, work: Callable[[Session], T]) -> T:
        """One transaction, tried again when the database was locked or a deadlock was broken."""
        for attempt in range(TRIES):
            try:
                with session_scope(self.sessions) as s:
                    return work(s)
            except OperationalError:
                if attempt == TRIES - 1:
                    raise
                _pause(attempt)
        raise AssertionError("unreachable")
