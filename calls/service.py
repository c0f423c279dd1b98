"""The call-lifecycle service for channels that own no transaction: the Asterisk app (a call
is a run of events over minutes) and the simulation (a whole call at once).

Each method is one transaction (for a live call, one per event, or one for the events of many
calls: :meth:`CallService.handle_together`), tried again by the kernel's retry policy when the
database fails under it, and made of :mod:`calls.operations`, the same operations the Twilio
webhooks and the console run inside their requests' transactions. Methods are synchronous; the
Asterisk app runs them off its event loop, one at a time per call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from calls import group_commit, recordings
from calls import operations as op
from calls.group_commit import KeyWrite
from calls.interviews import CaseRef, InterviewSession, open_interview
from calls.operations import Turn
from calls.questionnaires import Questionnaires
from dialer.outcomes import Applied
from dialer.protocol import CallRequest, CallResult
from ivr.engine import Answered, Event, Step
from survey.clock import Clock
from survey.models import CallAttempt, Interview
from survey.transactions import DEFAULT_RETRY, Retry, RetryPolicy, run_transaction
from survey.vocabulary import InterviewMode


class LiveCall:
    """One call's interview: its session and engine, alive from the answer to the hang-up. The
    session stays open between events; every event is committed before the next is read."""

    def __init__(self, session: Session, run: InterviewSession) -> None:
        self.session, self.run = session, run

    @property
    def interview_id(self) -> int:
        return self.run.interview.id


@dataclass(frozen=True)
class Conversation:
    """What a whole call stored, for its result."""

    reported_status: str | None
    callback_at: datetime | None


Talk = Callable[[InterviewSession, Step], Step]
"""Carry a call on from the engine's first step to its last (the simulated resident)."""


class CallService:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, *, retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self.sessions, self.clock, self.retry = sessions, clock, retry
        self.questionnaires = Questionnaires()

    def progress_together(self, moves: list[tuple[int, str]]) -> list[bool | Exception]:
        """Move attempts forward (ringing, in progress; never backwards), many in one transaction
        (a group, as :mod:`calls.group_commit` does for keys): whether each moved, or what it
        failed with."""
        def work(session: Session) -> list[bool | Exception]:
            moved: list[bool | Exception] = []
            for attempt_id, status in moves:
                try:
                    moved.append(op.progress(session, attempt_id, status, self.clock))
                except (LookupError, ValueError) as exc:  # this attempt's own error: the others go on
                    moved.append(exc)
            return moved

        try:
            return run_transaction(self.sessions, work, self.retry)
        except Exception as exc:
            return [exc] * len(moves)

    def finish(self, attempt_id: int, result: CallResult) -> Applied | None:
        """Hand the call's result to the dialer (AAPOR disposition, retry or final code)."""
        return run_transaction(self.sessions, lambda s: op.settle(s, attempt_id, result, self.clock), self.retry)

    def recorded_whole_call(self, attempt_id: int, path: str, provider_id: str, seconds: float) -> None:
        """The provider recorded the whole call (:func:`calls.recordings.whole_call`)."""
        run_transaction(self.sessions, lambda s: recordings.whole_call(s, attempt_id, path, provider_id, seconds,
                                                                        self.clock.now()), self.retry)

    # -- a live call, event by event ---------------------------------------------------------

    def answer(self, attempt_id: int, *, can_transfer: bool, recorded: bool = False) -> tuple[LiveCall, Turn]:
        """Open (or resume) the case's interview for an answered call, start it and commit."""
        retry = self.retry.start()
        while True:
            session = self._live_session()
            try:
                attempt = session.get(CallAttempt, attempt_id)
                if attempt is None:
                    raise LookupError(f"no call attempt {attempt_id}")
                run, turn = op.answer(session, attempt, self.questionnaires, self.clock, can_transfer=can_transfer,
                                      recorded=recorded)
                session.commit()
                return LiveCall(session, run), turn
            except DBAPIError as exc:
                self._discard(session)
                retry.after(exc)
            except BaseException:
                self._discard(session)
                raise

    def handle(self, call: LiveCall, event: Event) -> tuple[LiveCall, Turn]:
        """Feed one event and commit. When the commit fails and is worth another try, the
        interview is loaded again as last committed and the event fed once more."""
        retry = self.retry.start()
        while True:
            try:
                turn = op.feed(call.run, event)
                call.session.commit()
                return call, turn
            except DBAPIError as exc:
                call = self.recover(call, exc, retry)
            except BaseException:
                call.session.rollback()
                raise

    def handle_together(self, fed: list[tuple[LiveCall, Event]]) -> list[Turn | Exception]:
        """Feed each call its event and store them together (:mod:`calls.group_commit`): what
        each changed in ONE transaction, but an event that did more than those rows can say
        (a task for staff, the do-not-call list, ...) committed by its call's session at once.
        Each call's turn, or what its storing failed with: the call then reloads its interview
        (:meth:`recover`) and feeds the event again; nothing of a failed call was acknowledged."""
        results: list[Turn | Exception] = []
        grouped: list[tuple[int, KeyWrite]] = []
        for call, event in fed:
            try:
                turn = op.feed(call.run, event)
                write = group_commit.take(call.run)
                if write is None:
                    call.session.commit()
                else:
                    grouped.append((len(results), write))
                results.append(turn)
            except Exception as exc:
                call.session.rollback()
                results.append(exc)
        if grouped:
            try:
                with self.sessions() as session, session.begin():
                    group_commit.write(session, [write for _, write in grouped])
            except Exception as exc:
                for i, _ in grouped:
                    results[i] = exc
        return results

    def recover(self, call: LiveCall, exc: DBAPIError, retry: Retry) -> LiveCall:
        """After the commit of ``call``'s last event failed with ``exc``: wait as ``retry`` says
        (or raise ``exc``), then the interview as last committed, to feed that event again. The
        session of ``call`` is closed either way."""
        interview_id, engine = call.interview_id, call.run.engine
        self.close(call)
        retry.after(exc)
        return self._reload(interview_id, engine.can_transfer, engine.recorded)

    def close(self, call: LiveCall) -> None:
        self._discard(call.session)

    def _reload(self, interview_id: int, can_transfer: bool, recorded: bool) -> LiveCall:
        session = self._live_session()
        interview = session.get(Interview, interview_id)
        if interview is None:
            session.close()
            raise LookupError(f"no interview {interview_id}")
        return LiveCall(session, op.bind(session, interview, self.questionnaires, self.clock,
                                         can_transfer=can_transfer, recorded=recorded))

    def _live_session(self) -> Session:
        """A live call's session keeps its interview loaded after each commit: this process is
        the interview's only writer while the call lasts, so reading it again at every key would
        only cost a query (and keep a group commit from taking the key, :func:`group_commit.take`)."""
        session = self.sessions()
        session.expire_on_commit = False
        return session

    @staticmethod
    def _discard(session: Session) -> None:
        session.rollback()
        session.close()

    # -- a whole call at once ----------------------------------------------------------------

    def converse(self, request: CallRequest, case: CaseRef, start: Callable[[], tuple[Clock, Talk]]) -> Conversation:
        """A whole answered call in one transaction: the interview the dialer named in
        ``request`` (or a new one) is opened and carried to its end by what ``start`` gives: the
        call's own clock and its :data:`Talk`. ``start`` is called again for every try the
        database fails under, and must begin afresh each time."""
        def work(session: Session) -> Conversation:
            clock, talk = start()
            questionnaire = self.questionnaires.of(session, case.survey_id)
            interview = open_interview(session, case, questionnaire, clock, mode=InterviewMode.IVR,
                                       attempt_id=request.attempt_id, resume=request.interview_id, insert_now=False)
            if request.language in questionnaire.languages and not interview.state:
                interview.language = request.language  # the dialer knows the case's language
            run = InterviewSession(session, interview, questionnaire, clock, ask_language=request.language is None)
            talk(run, run.handle(Answered()))
            return Conversation(run.engine.reported_status, run.callback_at)

        return run_transaction(self.sessions, work, self.retry)
