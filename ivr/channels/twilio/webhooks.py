"""The Twilio webhooks as plain functions of (query, form) → TwiML, free of Flask.

Each request is one transaction (commit at the end). It starts by locking its call attempt
(an UPDATE, which is a row lock on PostgreSQL and the write lock on SQLite), so the deliveries of
one call (a gather, a late status callback, the AMD verdict, Twilio's retries) are handled one
after the other and always see each other's writes.

Idempotency: every TwiML reply is stored under (CallSid, seq), ``seq`` being the step number
carried in the action URL; a delivery seen before gets the stored reply and changes nothing.
Status callbacks only move an attempt forward, and its end is applied once. Replies are kept for a
day (Twilio retries within seconds) and pruned, in a transaction of their own, as calls end
(:mod:`.replies`).

Answering machines: calls are placed with asynchronous AMD, so the interview starts as soon as
the call is answered. A machine verdict ends the call (REST hang-up, and ``<Hangup/>`` to any
later step of it) unless the interview has begun: a person answering overrules the detector.
An interview that never began stays open for the next call, as the engine leaves it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

import requests
from sqlalchemy import Row, String, Table, TextualSelect, and_, bindparam, column, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from twilio.base.exceptions import TwilioRestException

from calls import operations as op
from calls import recordings
from calls.interviews import EngineRun, InterviewSession, LiveInterview, NeedsSession, store_now
from calls.operations import Turn
from calls.questionnaires import Questionnaires
from ivr.channels.twilio import params as p
from ivr.channels.twilio.audio import PromptRecordings
from ivr.channels.twilio.progress import NO_AGENT, TERMINAL, call_result, is_over
from ivr.channels.twilio.replies import ReplyPruning
from ivr.channels.twilio.twiml import AudioUrl, TwimlRenderer
from ivr.channels.twilio.twiml_cache import StepTwiml
from ivr.engine import Event, Prompt, Step
from survey.clock import Clock
from survey.models import CallAttempt, Case, Interview, WebhookReply
from survey.transactions import DEFAULT_RETRY, RetryPolicy, run_transaction
from survey.vocabulary import AttemptStatus

log = logging.getLogger(__name__)

Query = Mapping[str, str]
Form = Mapping[str, str]

_REPLIES = cast(Table, WebhookReply.__table__)  # Core: a reply is never read back as an object


class CallWebhooks:
    """``hang_up(call_sid)`` ends a live call through the REST API (machine answers);
    ``recordings`` are the recorded prompts to play rather than speak; ``recorded_calls``: calls are
    recorded whole (``MINYI_RECORD_CALLS``), which the resident is told."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, renderer: TwimlRenderer,
                 hang_up: Callable[[str], None], recordings: PromptRecordings | None = None, *,
                 retry: RetryPolicy = DEFAULT_RETRY, recorded_calls: bool = False) -> None:
        self.sessions = sessions
        self.recorded_calls = recorded_calls
        self.clock = clock
        self.renderer = renderer
        self.hang_up = hang_up
        self.recordings = recordings
        self.twiml = StepTwiml(renderer, self._audio)  # each step rendered once a minute
        self.questionnaires = Questionnaires()
        self.retry = retry
        self.replies = ReplyPruning(sessions, clock)

    # -- TwiML webhooks ---------------------------------------------------------------------

    def start(self, query: Query, form: Form) -> str:
        """The call was answered: open (or resume) the case's interview."""
        verdict = p.answered_by(form, required=False)
        return self._turn(query, form, 0, lambda s, call, seq: self._open(s, call, verdict))

    def gather(self, query: Query, form: Form) -> str:
        return self._step(query, form, p.gather_event(form))

    def recorded(self, query: Query, form: Form) -> str:
        return self._step(query, form, p.recording_event(form))

    def _step(self, query: Query, form: Form, event: Event) -> str:
        """A step of the interview answered (keys, a recording): the engine's next step. The
        busiest webhook, so it runs on Core rows, with no ORM object: the attempt locked and read
        with its interview, its case's language and the stored reply (:meth:`_lock_step`), and the interview's changes, its answer and the reply written with Core
        (:class:`~calls.interviews.LiveRun`). An event that does more (a task for staff, a callback,
        a recording...) is fed to the interview loaded as an ORM object."""
        attempt_id, sid, seq = p.query_id(query, "attempt"), p.call_sid(form), _step_number(query)

        def work(s: Session) -> str:
            attempt, state = self._lock_step(s, attempt_id, sid, seq)
            if state.reply is not None:
                return str(state.reply)
            if is_over(attempt.status):  # a late step of an ended call: nothing to do or to remember
                return self.twiml.hangup
            reply = {"call_sid": sid, "seq": seq, "created_at": self.clock.now()}
            if state.id is None:  # a step of a call that never started: nothing to continue
                body = self.twiml.hangup
            else:
                try:
                    live = op.bind_live(s, LiveInterview(state), self.questionnaires, self.clock,
                                        can_transfer=self._can_transfer, recorded=self.recorded_calls,
                                        case_language=state.case_language)
                    body = self._continue(attempt_id, attempt.amd_result, live, event, seq)
                    live.store(_REPLIES, {**reply, "body": body})
                    return body
                except NeedsSession:
                    interview = s.get(Interview, state.id)
                    assert interview is not None  # read in this transaction, under the attempt's lock
                    run = self._bind(s, interview, case_language=state.case_language)
                    body = self._continue(attempt_id, attempt.amd_result, run, event, seq)
            store_now(s, _REPLIES, {**reply, "body": body})
            return body

        return run_transaction(self.sessions, work, self.retry)

    def _turn(self, query: Query, form: Form, seq: int, respond: Callable[[Session, Locked, int], str]) -> str:
        attempt_id, sid = p.query_id(query, "attempt"), p.call_sid(form)

        def work(s: Session) -> str:
            call = self._lock(s, attempt_id, sid, seq)
            if call.stored_reply is not None:
                return call.stored_reply
            if is_over(call.attempt.status):  # a late step of an ended call: nothing to do or to remember
                return self.twiml.hangup
            body = respond(s, call, seq)
            store_now(s, _REPLIES, {"call_sid": sid, "seq": seq, "body": body, "created_at": self.clock.now()})
            return body

        return run_transaction(self.sessions, work, self.retry)

    def dialed(self, query: Query, form: Form) -> str:
        """A transfer to the operator ended: answered, or nobody came (an abandoned call)."""
        answered = p.dial_answered(form)
        return self._turn(query, form, _step_number(query),
                          lambda s, call, seq: self._after_transfer(s, call, answered, seq))

    def _after_transfer(self, s: Session, call: Locked, answered: bool, seq: int) -> str:
        if answered:
            return self.twiml.hangup
        attempt, interview = call.attempt, call.interview
        attempt.hangup_cause = NO_AGENT  # kept for the call's result
        questionnaire = self.questionnaires.of(s, attempt.survey_id)
        language = interview.language if interview else questionnaire.languages[0]
        sorry = Prompt("msg/operator", questionnaire.message("operator", language), language)
        return self.twiml.render(Step(prompts=(sorry,), hangup=True), questionnaire.id, attempt.id, seq + 1)

    def _open(self, s: Session, call: Locked, verdict: str | None) -> str:
        attempt = call.attempt
        op.progress(s, attempt.id, AttemptStatus.IN_PROGRESS, self.clock)
        if verdict:  # synchronous AMD, should the call have been placed with it
            attempt.amd_result = verdict
        if p.is_machine(attempt.amd_result):  # a machine, even if its verdict came first
            return self.twiml.hangup
        run, turn = op.answer(s, attempt, self.questionnaires, self.clock, can_transfer=self._can_transfer,
                              recorded=self.recorded_calls, opened=call.interview)  # read under the lock
        return self._render(attempt.id, run, turn, seq=0)

    def _continue(self, attempt_id: int, amd_result: str | None, run: EngineRun, event: Event,
                  seq: int) -> str:
        if p.is_machine(amd_result) and not run.engine.began:  # the call is being ended
            return self.twiml.hangup
        return self._render(attempt_id, run, op.feed(run, event), seq)

    def _render(self, attempt_id: int, run: EngineRun, turn: Turn, seq: int) -> str:
        """TwiML for step ``seq + 1``, the engine's answer to step ``seq``."""
        return self.twiml.render(turn.step, run.engine.q.id, attempt_id, seq + 1)

    def _audio(self, questionnaire_id: str) -> AudioUrl | None:
        return self.recordings.urls_for(questionnaire_id) if self.recordings else None

    @property
    def _can_transfer(self) -> bool:
        return bool(self.renderer.operator_number)

    def _run(self, s: Session, call: Locked) -> InterviewSession | None:
        """The engine on this call's interview, if the call opened one."""
        return None if call.interview is None else self._bind(s, call.interview)

    def _bind(self, s: Session, interview: Interview, case_language: str | None | op.Unread = op.UNREAD
              ) -> InterviewSession:
        return op.bind(s, interview, self.questionnaires, self.clock, can_transfer=self._can_transfer,
                       recorded=self.recorded_calls, case_language=case_language)

    # -- notifications ----------------------------------------------------------------------

    def status(self, query: Query, form: Form) -> None:
        """Call progress; the final status ends the interview and applies the call's result."""
        attempt_id, sid, status = p.query_id(query, "attempt"), p.call_sid(form), p.call_status(form)
        verdict = p.answered_by(form, required=False)
        sip = form.get("SipResponseCode") or None
        call_seconds = p.duration(form, "CallDuration") if form.get("CallDuration") else None

        def work(s: Session) -> None:
            if status not in TERMINAL:
                self._progress(s, attempt_id, sid, status, verdict)
                return
            attempt = self._lock_attempt(s, attempt_id, sid)
            if is_over(attempt.status):
                return
            if verdict and attempt.amd_result is None:
                attempt.amd_result = verdict
            interview_status, machine = self._end_interview(s, self._call_state(s, attempt, sid))
            result = call_result(attempt, status, self.clock.now(), call_sid=sid, interview_status=interview_status,
                                 machine_verdict=attempt.amd_result if machine else None, sip_code=sip,
                                 duration_s=call_seconds, callback_at=_fresh_callback(attempt),
                                 no_agent=attempt.hangup_cause == NO_AGENT)
            op.settle(s, attempt.id, result, self.clock)

        run_transaction(self.sessions, work, self.retry)
        self.replies.prune()

    def _progress(self, s: Session, attempt_id: int, sid: str, status: str, verdict: str | None) -> None:
        """A call on its way (initiated, ringing, answered): the lock, then the move, two
        statements with Core (and the AMD verdict, should it come with it)."""
        locked = self._lock_row(s, attempt_id, sid)
        if is_over(locked.status):
            return
        if verdict and locked.amd_result is None:
            s.execute(_SET_AMD, {"attempt_id": attempt_id, "verdict": verdict})
        op.progress(s, attempt_id, status, self.clock)

    def _end_interview(self, s: Session, call: Locked) -> tuple[str | None, bool]:
        """The interview status to report once the call is over (None when the interview never
        began), and whether an answering machine or fax took the call."""
        attempt, run = call.attempt, self._run(s, call)
        if run is None:
            return None, p.is_machine(attempt.amd_result)
        return op.hang_up(run), p.is_machine(attempt.amd_result) and not run.engine.began

    def amd(self, query: Query, form: Form) -> None:
        """The asynchronous AMD verdict: a machine or fax ends the call."""
        attempt_id, sid = p.query_id(query, "attempt"), p.call_sid(form)
        verdict = p.answered_by(form, required=True)

        def work(s: Session) -> bool:
            """Record the verdict; whether it ends the call."""
            call = self._lock(s, attempt_id, sid)
            attempt = call.attempt
            if is_over(attempt.status) or attempt.amd_result == verdict:  # over, or delivered before
                return False
            attempt.amd_result = verdict
            run = self._run(s, call)
            began = run is not None and run.engine.began
            if p.is_machine(verdict) and began:
                log.info("attempt %s: AMD said %s, but the resident is answering: carrying on", attempt.id, verdict)
            return p.is_machine(verdict) and not began

        if run_transaction(self.sessions, work, self.retry):
            self._end_call(sid)

    def _end_call(self, sid: str) -> None:
        try:
            self.hang_up(sid)
        except (TwilioRestException, requests.RequestException) as exc:
            # the call's next step is answered with <Hangup/>
            log.warning("call %s: hang-up after a machine answer failed: %s", sid, exc)

    def recording(self, query: Query, form: Form) -> None:
        """recordingStatusCallback: a recording file is ready (or failed)."""
        attempt_id, sid = p.query_id(query, "attempt"), p.call_sid(form)
        recording_sid, state = p.field(form, "RecordingSid"), p.field(form, "RecordingStatus")
        if state != "completed":  # "failed" or "absent": there is no file to download
            log.warning("call %s: recording %s is %s", sid, recording_sid, state)
            run_transaction(self.sessions, lambda s: recordings.lost(s, recording_sid, f"Twilio reported the "
                                                                     f"recording {state}"), self.retry)
            return
        url, seconds = p.field(form, "RecordingUrl"), p.duration(form, "RecordingDuration")

        def work(s: Session) -> None:
            self._lock(s, attempt_id, sid)
            now = self.clock.now()
            if recordings.completed(s, recording_sid, url, seconds, now) is not None:
                return
            if query.get("whole_call"):  # kept with the call, and with its interview if it opened one
                recordings.whole_call(s, attempt_id, url, recording_sid, seconds, now)
            # an open answer's recording without its row yet: the <Record> action brings it

        run_transaction(self.sessions, work, self.retry)

    # -- helpers ----------------------------------------------------------------------------

    def _lock(self, s: Session, attempt_id: int, sid: str, seq: int | None = None) -> Locked:
        """Lock the call attempt, then read its call's state (:meth:`_call_state`)."""
        return self._call_state(s, self._lock_attempt(s, attempt_id, sid), sid, seq)

    def _lock_attempt(self, s: Session, attempt_id: int, sid: str) -> CallAttempt:
        """Lock the call attempt (one UPDATE that returns it) and check it is this call's."""
        attempt: CallAttempt | None = s.scalars(_LOCK_ATTEMPT, {"attempt_id": attempt_id}).one_or_none()
        if attempt is None:
            raise p.WebhookError(404, f"no call attempt {attempt_id}")
        if _claim(s, attempt_id, attempt.provider_call_id, sid):
            attempt.provider_call_id = sid
        return attempt

    def _lock_row(self, s: Session, attempt_id: int, sid: str) -> Row[tuple[str, str | None, str | None, int]]:
        """:meth:`_lock_attempt` with Core: the attempt's status, call, AMD verdict and case, no ORM
        object (loading one cost more than the statement)."""
        attempt = s.connection().execute(_LOCK_ROW, {"attempt_id": attempt_id}).one_or_none()
        if attempt is None:
            raise p.WebhookError(404, f"no call attempt {attempt_id}")
        if _claim(s, attempt_id, attempt.provider_call_id, sid):
            s.execute(_SET_CALL, {"attempt_id": attempt_id, "sid": sid})
        return attempt

    def _lock_step(self, s: Session, attempt_id: int, sid: str, seq: int) -> tuple[_Attempt, Any]:
        """:meth:`_lock_row`, then the step's state (:data:`_STEP_STATE`: the interview's columns,
        its case's language, the stored reply) read after the lock. On SQLite in the locking
        statement itself (its RETURNING clause): SQLite's write lock is the database's, so what
        that statement reads is what the last writer committed. PostgreSQL reads a statement's
        rows as they were when it began, perhaps before the lock was granted: a statement of its own."""
        values = {"attempt_id": attempt_id, "call_sid": sid, "seq": seq}
        db = s.connection()
        if db.dialect.name == "sqlite":
            row = db.execute(_LOCK_STEP, values).one_or_none()
            if row is None:
                raise p.WebhookError(404, f"no call attempt {attempt_id}")
            attempt = _Attempt(row.attempt_status, row.provider_call_id, row.amd_result, row.case_id)
            if _claim(s, attempt_id, attempt.provider_call_id, sid):
                s.execute(_SET_CALL, {"attempt_id": attempt_id, "sid": sid})
            return attempt, row
        locked = self._lock_row(s, attempt_id, sid)
        state = db.execute(_STEP_STATE, {"case_id": locked.case_id, **values}).one()
        return _Attempt(locked.status, locked.provider_call_id, locked.amd_result, locked.case_id), state

    def _call_state(self, s: Session, attempt: CallAttempt, sid: str, seq: int | None = None) -> Locked:
        """Read, in one statement made after the lock so that it sees what earlier deliveries
        committed, the attempt's case, the interview the call opened and the reply stored for step
        ``seq``."""
        case, interview, reply = s.execute(_CALL_STATE, {"case_id": attempt.case_id, "attempt_id": attempt.id,
                                                        "call_sid": sid, "seq": -1 if seq is None else seq}).one()
        set_committed_value(attempt, "case", case)  # held here, so neither finds it again
        if interview is not None:
            set_committed_value(interview, "case", case)
        return Locked(attempt, interview, reply)


# Built once: a request only binds its values (building the statement cost more than running it).
_attempts = cast(Table, CallAttempt.__table__)
_LOCK_ATTEMPT = select(CallAttempt).from_statement(  # Core UPDATE, loaded as the ORM object: no ORM bulk-update path
    update(_attempts).where(_attempts.c.id == bindparam("attempt_id")).values(status=_attempts.c.status)
    .returning(*_attempts.c))
_LOCK_ROW = (update(_attempts).where(_attempts.c.id == bindparam("attempt_id")).values(status=_attempts.c.status)
             .returning(_attempts.c.status, _attempts.c.provider_call_id, _attempts.c.amd_result,
                        _attempts.c.case_id))
_SET_CALL = update(_attempts).where(_attempts.c.id == bindparam("attempt_id")).values(provider_call_id=bindparam("sid"))
_SET_AMD = update(_attempts).where(_attempts.c.id == bindparam("attempt_id")).values(amd_result=bindparam("verdict"))
_STORED_REPLY = (select(WebhookReply.body).where(WebhookReply.call_sid == bindparam("call_sid"),
                                                 WebhookReply.seq == bindparam("seq")).scalar_subquery())
_CALL_STATE = (select(Case, Interview, _STORED_REPLY)
               .outerjoin(Interview, and_(Interview.case_id == Case.id,
                                          Interview.last_attempt_id == bindparam("attempt_id")))
               .where(Case.id == bindparam("case_id")).order_by(Interview.id.desc()).limit(1))
_interviews = cast(Table, Interview.__table__)
_STEP_STATE = (select(*(_interviews.c[name] for name in LiveInterview.READ),  # a step's: Core, the case's language
                      Case.language.label("case_language"), _STORED_REPLY.label("reply"))
               .select_from(Case)
               .outerjoin(_interviews, and_(_interviews.c.case_id == Case.id,
                                            _interviews.c.last_attempt_id == bindparam("attempt_id")))
               .where(Case.id == bindparam("case_id")).order_by(_interviews.c.id.desc()).limit(1))


def _lock_step_sql() -> TextualSelect:
    """:meth:`CallWebhooks._lock_step` on SQLite: the lock's UPDATE returning the attempt's
    columns, the interview's (:attr:`LiveInterview.READ`), the case's language and the stored
    reply (subqueries in RETURNING; written out, since SQLAlchemy's SQLite RETURNING drops the
    table names the subqueries need), typed as the tables' columns for their values' conversion."""
    of_call = ("FROM interviews AS iv WHERE iv.case_id = call_attempts.case_id "
               "AND iv.last_attempt_id = call_attempts.id ORDER BY iv.id DESC LIMIT 1")
    read = [name for name in LiveInterview.READ if name != "case_id"]  # the attempt's case is the interview's
    sql = ("UPDATE call_attempts SET status = status WHERE id = :attempt_id RETURNING status AS attempt_status, "
           "provider_call_id, amd_result, case_id, "
           + "".join(f"(SELECT iv.{name} {of_call}) AS {name}, " for name in read)
           + "(SELECT cases.language FROM cases WHERE cases.id = call_attempts.case_id) AS case_language, "
           "(SELECT body FROM webhook_replies WHERE call_sid = :call_sid AND seq = :seq) AS reply")
    return text(sql).columns(column("attempt_status", String), _attempts.c.provider_call_id, _attempts.c.amd_result,
                             _attempts.c.case_id, *(_interviews.c[name] for name in read),
                             column("case_language", String), column("reply", String))


_LOCK_STEP = _lock_step_sql()


class _Attempt(NamedTuple):
    """A locked attempt as a step reads it."""

    status: str
    provider_call_id: str | None
    amd_result: str | None
    case_id: int


@dataclass(frozen=True)
class Locked:
    """A call attempt locked for one request (its case loaded with it), the interview its call
    opened or resumed, and the reply stored for the request's step when it was delivered before."""

    attempt: CallAttempt
    interview: Interview | None
    stored_reply: str | None


def _claim(s: Session, attempt_id: int, provider_call_id: str | None, sid: str) -> bool:
    """Whether the attempt, with call ``provider_call_id`` so far, is to be claimed by call ``sid``
    (its first delivery), after checking that it is this call's: a CallSid is one call, and an
    attempt has one call."""
    if provider_call_id is None:
        other = s.scalar(select(CallAttempt.id).where(CallAttempt.provider_call_id == sid))
        if other is not None:
            raise p.WebhookError(409, f"call {sid} belongs to call attempt {other}, not {attempt_id}")
        return True
    if provider_call_id != sid:
        raise p.WebhookError(409, f"call attempt {attempt_id} belongs to call {provider_call_id}, not {sid}")
    return False


def _step_number(query: Query) -> int:
    seq = p.query_id(query, "seq")
    if seq < 1:
        raise p.WebhookError(400, "query parameter seq must be 1 or more (0 is the call's start)")
    return seq


def _fresh_callback(attempt: CallAttempt) -> datetime | None:
    """A callback time the resident chose during this call (booked on the case at once)."""
    callback = attempt.case.callback_at
    return callback if callback is not None and callback > attempt.started_at else None
