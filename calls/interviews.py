"""Persistence for the engine: open or resume a case's interview, and store every effect.

This is the only place where engine effects become rows. Channels (simulated, Twilio, ARI) and
the staff console call :class:`InterviewSession`; the caller owns the transaction and decides
when to commit (the webhook per request, the ARI app per event, the simulation per call).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Literal, Protocol, cast

from sqlalchemy import Table, bindparam, delete, event, insert, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from calls.callbacks import book_callback
from calls.recordings import insert_recordings, recording_row
from dialer.cases import resumable_interviews
from dialer.dnc import add_to_dnc
from dialer.followup import open_task
from ivr.engine import Engine, Event, Step
from ivr.engine import effects as fx
from survey.clock import Clock
from survey.models import Answer, AuditLog, Case, Contact, Interview
from survey.questionnaire import Questionnaire
from survey.vocabulary import InterviewMode, InterviewStatus, TaskKind

_answers = cast(Table, Answer.__table__)
_cases = cast(Table, Case.__table__)
_interviews = cast(Table, Interview.__table__)
_ANSWER_FIELDS = ("seq", "status", "code", "value", "codes", "raw_input", "duration_ms", "reprompts", "mode",
                  "answered_at")


def _upsert_answers(insert_into: Callable[[Table], Any]) -> Any:
    """One statement for new and changed answers alike (one row per question), so storing them
    needs no query for the rows already there. RETURNING the ids: a changed row loaded in the
    session is expired; rows in any order let SQLite write them with one statement."""
    add = insert_into(_answers)
    return add.on_conflict_do_update(index_elements=[_answers.c.interview_id, _answers.c.question_id],
                                     set_={name: add.excluded[name] for name in _ANSWER_FIELDS}).returning(_answers.c.id)


STORE_ANSWERS = {"sqlite": _upsert_answers(sqlite.insert), "postgresql": _upsert_answers(postgresql.insert)}
SET_LANGUAGE = update(_cases).where(_cases.c.id == bindparam("case_id")).values(language=bindparam("chosen"))


def resumable_interview(session: Session, case_id: int) -> Interview | None:
    """The case's latest interview that stopped part-way, if any."""
    interview_id = resumable_interviews(session, [case_id]).get(case_id)
    return None if interview_id is None else session.get(Interview, interview_id)


_BUILT: dict[tuple[object, ...], Any] = {}  # store_now's statements, built once per shape (building cost
# more than running them; SQLAlchemy caches their compiled form only when the object is reused)


def _built(shape: tuple[object, ...], build: Callable[[], Any]) -> Any:
    if shape not in _BUILT:
        _BUILT[shape] = build()
    return _BUILT[shape]


def _binds(table: Table, names: tuple[str, ...], prefix: str) -> dict[str, Any]:
    return {name: bindparam(prefix + name, type_=table.c[name].type) for name in names}


def _prefixed(values: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {prefix + name: value for name, value in values.items()}


def _interview_update(columns: tuple[str, ...]) -> Any:
    return update(_interviews).where(_interviews.c.id == bindparam("interview_pk")).values(
        _binds(_interviews, columns, "iv_"))


def _in_one(table: Table, columns: tuple[str, ...], with_answer: bool, row: tuple[str, ...]) -> Any:
    """PostgreSQL: the interview's UPDATE and its answer's upsert as CTEs of the row's INSERT."""
    ctes = [_interview_update(columns).cte("interview")] if columns else []
    if with_answer:
        add = postgresql.insert(_answers).values(_binds(_answers, ("interview_id", "question_id", *_ANSWER_FIELDS),
                                                        "an_"))
        ctes.append(add.on_conflict_do_update(index_elements=[_answers.c.interview_id, _answers.c.question_id],
                                              set_={name: add.excluded[name] for name in _ANSWER_FIELDS})
                    .cte("answers"))
    return insert(table).values(_binds(table, row, "row_")).add_cte(*ctes)


class CaseRef(Protocol):
    """What opening an interview needs of its case: a :class:`Case` row, or what a dialer's call
    request already says of it."""

    @property
    def id(self) -> int: ...

    @property
    def survey_id(self) -> int: ...

    @property
    def language(self) -> str | None: ...


LOOK_UP: Final = "look up"  # open_interview(resume=...): find the case's partial interview


def open_interview(session: Session, case: CaseRef, questionnaire: Questionnaire, clock: Clock, *,
                   mode: str = InterviewMode.IVR, attempt_id: int | None = None,
                   interviewer_id: int | None = None, resume: int | None | Literal["look up"] = LOOK_UP,
                   insert_now: bool = True) -> Interview:
    """Resume the case's partial interview or start a new one.

    ``resume`` is the id of the partial to resume (None: there is none) when the caller knows it
    already, as the dialer does for every call it places. ``insert_now=False`` leaves a new
    interview to the session's next flush, so that a caller storing a whole call at once (the
    simulation) writes it with one statement; its id is unknown until then."""
    if resume == LOOK_UP:
        interview = resumable_interview(session, case.id)
    else:
        interview = None if resume is None else session.get(Interview, resume)
    now = clock.now()
    if interview is None:
        interview = Interview(case_id=case.id, survey_id=case.survey_id, questionnaire_version=questionnaire.version,
                              mode=mode, language=case.language or questionnaire.languages[0], state={},
                              started_at=now, updated_at=now)
        session.add(interview)
    interview.mode = mode
    interview.last_attempt_id = attempt_id or interview.last_attempt_id
    interview.interviewer_id = interviewer_id
    if insert_now:
        session.flush()
    return interview


_BOUND = "calls.interviews.bound"  # Session.info key: the InterviewSessions on that session


@event.listens_for(Session, "after_flush_postexec")
def _after_flush(session: Session, _flush: object) -> None:
    """Listeners for every session, registered once: a listener per session costs more than a
    webhook's SQL statements (``event.listen`` on an instance builds its own dispatcher)."""
    for run in session.info.get(_BOUND, ()):
        run._write_pending()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    for run in session.info.get(_BOUND, ()):
        run._rolled_back(session)


class NeedsSession(Exception):
    """An event on a :class:`LiveInterview` did more than a live step stores (see
    :class:`LiveRun`); nothing was changed: feed it to the ORM's interview instead."""


class LiveInterview:
    """An interview as one step of a live call reads it with Core, with no ORM object (loading one
    cost a webhook more than its statements): the columns the engine needs (:attr:`READ`), the
    columns a step sets (never read before they are set), and the columns the step set since
    (:attr:`changed`, written by :meth:`LiveRun.store`)."""

    READ: Final = ("id", "case_id", "survey_id", "mode", "language", "status", "state")
    id: int
    case_id: int
    survey_id: int
    mode: str
    language: str
    status: str
    state: dict[str, Any]
    consent: bool | None
    current_question: str | None
    completed_at: datetime | None
    updated_at: datetime
    changed: dict[str, Any]

    def __init__(self, columns: Any) -> None:
        """``columns``: a row with (at least) the :attr:`READ` columns of ``interviews``."""
        object.__setattr__(self, "changed", {})
        for name in self.READ:
            object.__setattr__(self, name, getattr(columns, name))

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        self.changed[name] = value


InterviewRow = Interview | LiveInterview  # what an engine run reads and sets the columns of


def _live_effect(effect: fx.Effect) -> bool:
    """What a live step stores by itself: an answer without a recording, a status, a language."""
    return type(effect) in (fx.StatusChanged, fx.LanguageChosen) or (
        type(effect) is fx.AnswerGiven and not effect.recording_path)


def store_now(session: Session, table: Table, row: dict[str, Any]) -> None:
    """Insert ``row`` into ``table`` and write the interview bound to ``session`` (its changed
    columns and its new answers) with it, now and with Core statements: on PostgreSQL one
    statement (the interview and its answers as CTEs), elsewhere one per table, and no ORM flush of
    the interview either way (a live call's request costs less: the webhooks store each reply so).
    A session with no interview, or with anything else to write for it (a new interview, a
    recording, the case's language), goes the ORM's way."""
    runs: list[InterviewSession] = session.info.get(_BOUND, [])
    changed = runs[0]._core_changes() if len(runs) == 1 else None
    if changed is None:
        session.execute(insert(table), row)
        return
    runs[0]._store(changed, table, row)
    session.expunge(runs[0].interview)  # written: the session's flush must not write it again


class EngineRun:
    """One engine fed the events of one interview: what an ORM-bound :class:`InterviewSession`
    and a live step's :class:`LiveRun` have in common (the answers, status and language an event
    gives, kept for the caller's transaction)."""

    interview: InterviewRow

    def __init__(self, session: Session, interview: InterviewRow, questionnaire: Questionnaire, clock: Clock, *,
                 can_transfer: bool = False, ask_language: bool = True, interviewer: bool = False,
                 recorded: bool = False) -> None:
        self.session = session
        self.interview = interview
        self.clock = clock
        state = interview.state or None
        language = interview.language if (state or not ask_language) else None
        self.engine = Engine(questionnaire, clock, state=state, language=language, can_transfer=can_transfer,
                             ask_language=ask_language, interviewer=interviewer, recorded=recorded)
        self._given: dict[str, dict[str, Any]] = {}  # answers not written yet, by question
        self._recorded: list[tuple[str, str, str | None, float]] = []  # recordings not written yet
        self._case_language: str | None = None  # the language chosen, for a case not loaded here
        self._consent_id = next((q.id for q in questionnaire.questions if q.role == "consent"), None)
        self.callback_at: datetime | None = None  # when the resident asked to be called back

    def handle(self, event: Event) -> Step:
        """Feed one event; its answers, the interview's status and its state are written at the
        next flush or commit, which the caller owns (per event for a live call)."""
        step = self.engine.handle(event)
        for effect in self._effects():
            self._apply(effect)
        self.interview.state = self.engine.snapshot()
        self.interview.updated_at = self.clock.now()
        return step

    def _effects(self) -> list[fx.Effect]:
        return self.engine.drain_effects()

    @property
    def status(self) -> str:
        return self.interview.status

    def _apply(self, effect: fx.Effect) -> None:
        handler = {fx.AnswerGiven: self._answer, fx.StatusChanged: self._status,
                   fx.LanguageChosen: self._language}[type(effect)]
        handler(effect)  # type: ignore[operator]

    def _answer(self, e: fx.AnswerGiven) -> None:
        """Keep the answer (one row per question) for the next flush."""
        iv, now = self.interview, self.clock.now()
        self._given[e.question_id] = {
            "seq": e.seq, "status": e.status, "code": e.code, "value": e.value,
            "codes": list(e.codes) if e.codes is not None else None, "raw_input": e.raw_input,
            "duration_ms": e.duration_ms, "reprompts": e.reprompts, "mode": iv.mode, "answered_at": now}
        if e.recording_path:
            self._recorded.append((e.question_id, e.recording_path, e.recording_provider_id, e.recording_seconds))
        if e.question_id == self._consent_id:
            iv.consent = self.engine.consent

    def _status(self, e: fx.StatusChanged) -> None:
        iv = self.interview
        iv.status, iv.current_question = e.status, e.current_question
        if e.status == InterviewStatus.COMPLETE:
            iv.completed_at = self.clock.now()

    def _language(self, e: fx.LanguageChosen) -> None:
        self.interview.language = e.language
        self._case_language = e.language  # written with the interview, without loading the case

    def _store(self, changed: dict[str, Any], table: Table, row: dict[str, Any]) -> None:
        answers = self._take_answers()
        db, columns = self.session.connection(), tuple(changed)
        if db.dialect.name == "postgresql" and len(answers) <= 1:
            shape = (table.name, columns, bool(answers), tuple(row))
            params = {"interview_pk": self.interview.id, **_prefixed(changed, "iv_"), **_prefixed(row, "row_"),
                      **(_prefixed(answers[0], "an_") if answers else {})}
            db.execute(_built(shape, lambda: _in_one(table, columns, bool(answers), tuple(row))), params)
        else:
            if changed:
                db.execute(_built(("interview", columns), lambda: _interview_update(columns)),
                           {"interview_pk": self.interview.id, **_prefixed(changed, "iv_")})
            if answers:
                db.execute(STORE_ANSWERS[db.dialect.name], answers)
            db.execute(_built(("insert", table.name), lambda: insert(table)), row)

    def _take_answers(self) -> list[dict[str, Any]]:
        """The answers not written yet, as rows of ``answers``; whoever takes them writes them."""
        given, self._given = self._given, {}
        return [{"interview_id": self.interview.id, "question_id": qid, **row} for qid, row in given.items()]

    def _write_case_language(self) -> None:
        """The language chosen, on a case not loaded here, written with a statement of its own."""
        if self._case_language is not None:
            self.session.connection().execute(SET_LANGUAGE, {"case_id": self.interview.case_id,
                                                               "chosen": self._case_language})
            self._case_language = None


class LiveRun(EngineRun):
    """An engine on a live call's interview as read with Core, for one event whose answer and
    status :meth:`store` writes with Core statements (no ORM object, no flush). An event that
    does anything else (a task for staff, the do-not-call list, a callback, a recording, answers
    cleared) raises :class:`NeedsSession` from :meth:`handle` before anything changed: the caller
    feeds it to an ORM-bound :class:`InterviewSession` instead."""

    interview: LiveInterview

    def _effects(self) -> list[fx.Effect]:
        effects = self.engine.drain_effects()
        if not all(_live_effect(effect) for effect in effects):
            raise NeedsSession
        return effects

    def store(self, table: Table, row: dict[str, Any]) -> None:
        """Insert ``row`` into ``table`` with the interview's changed columns and its answers, as
        :func:`store_now` does."""
        self._store(dict(self.interview.changed), table, row)
        self.interview.changed.clear()
        self._write_case_language()  # the case is never loaded here


class InterviewSession(EngineRun):
    """One engine bound to one ORM Interview row: every effect stored, at the session's flushes."""

    interview: Interview

    def __init__(self, session: Session, interview: Interview, questionnaire: Questionnaire, clock: Clock, *,
                 can_transfer: bool = False, ask_language: bool = True, user_id: int | None = None,
                 interviewer: bool = False, recorded: bool = False) -> None:
        super().__init__(session, interview, questionnaire, clock, can_transfer=can_transfer,
                         ask_language=ask_language, interviewer=interviewer, recorded=recorded)
        self.user_id = user_id
        session.info.setdefault(_BOUND, []).append(self)  # see _after_flush and _after_rollback

    def _apply(self, effect: fx.Effect) -> None:
        handler = {fx.OperatorRequested: self._operator, fx.OptedOut: self._opt_out,
                   fx.CallbackRequested: self._callback, fx.AnswersCleared: self._cleared}.get(type(effect))
        if handler is None:
            super()._apply(effect)
        else:
            handler(effect)  # type: ignore[operator]

    def _language(self, e: fx.LanguageChosen) -> None:
        case = self.session.identity_map.get(identity_key(Case, self.interview.case_id))
        if case is None:
            super()._language(e)  # written after the next flush
        else:
            self.interview.language = case.language = e.language

    def _write_pending(self, *_flush: object) -> None:
        """Write the answers given since the last flush with one statement (Core: an interview
        gives many answers), and the case's language when the case is not loaded here. It runs after every flush of the session, and every
        event changes the interview, so the flush that stores the interview's state (and inserts
        a new interview) is followed by its answers, in the same transaction."""
        self._write_case_language()
        if self._recorded:
            recorded, self._recorded, now = self._recorded, [], self.clock.now()
            insert_recordings(self.session.connection(), [
                recording_row(self.interview.id, qid, path, provider_id, seconds, now,
                              attempt_id=self.interview.last_attempt_id)
                for qid, path, provider_id, seconds in recorded])
        if not self._given:
            return
        db, rows = self.session.connection(), self._take_answers()
        for row_id in db.execute(STORE_ANSWERS[db.dialect.name], rows).scalars():
            loaded = self.session.identity_map.get(identity_key(Answer, row_id))
            if loaded is not None:
                self.session.expire(loaded)
        if "answers" not in inspect(self.interview).unloaded:
            self.session.expire(self.interview, ["answers"])

    def _core_changes(self) -> dict[str, Any] | None:
        """The interview's changed columns, when Core statements can write all that is pending
        for it (see :func:`store_now`); else None."""
        state = inspect(self.interview)
        if not state.persistent or self._recorded or self._case_language is not None \
                or "answers" not in state.unloaded:
            return None
        changed = {key: getattr(self.interview, key) for key in state.committed_state}
        return changed if all(key in _interviews.c for key in changed) else None

    def take_pending(self) -> tuple[list[dict[str, Any]], str | None] | None:
        """The answer rows and the case's chosen language not written yet, handed to a writer of
        their own (:mod:`calls.group_commit`) instead of the next flush. None, and nothing taken,
        while a recording is pending or the interview is not stored yet."""
        if self._recorded or self.interview.id is None:
            return None
        answers = self._take_answers()
        language, self._case_language = self._case_language, None
        if answers and "answers" not in inspect(self.interview).unloaded:
            self.session.expire(self.interview, ["answers"])
        return answers, language

    def _rolled_back(self, _session: Session) -> None:
        """Answers not written are dropped with the transaction, as its other changes are."""
        self._given.clear()
        self._recorded.clear()
        self._case_language = None

    def _operator(self, e: fx.OperatorRequested) -> None:
        """A task for staff at once: the resident is waiting for a person, whether or not the
        call could be put through (the dialer's reading of the call's end finds it there)."""
        iv = self.interview
        if iv.id is None:
            self.session.flush()  # the task refers to the interview
        open_task(self.session, survey_id=iv.survey_id, case_id=iv.case_id, kind=TaskKind.OPERATOR,
                  now=self.clock.now(), interview_id=iv.id, note=f"operator requested at {e.question_id or 'start'}")

    def _opt_out(self, _e: fx.OptedOut) -> None:
        """On the do-not-call list from this moment, for every survey (``dialer.dnc``)."""
        number_hash = self.session.scalar(select(Contact.number_hash).join(Case, Case.contact_id == Contact.id)
                                          .where(Case.id == self.interview.case_id))
        assert number_hash is not None  # foreign keys
        add_to_dnc(self.session, number_hash, "ivr_opt_out", self.interview.survey_id, now=self.clock.now())

    def _callback(self, e: fx.CallbackRequested) -> None:
        """The resident's chosen time goes on the case at once (a lost end-of-call report must
        not lose it) and into the call's result (:attr:`callback_at`)."""
        if e.slot is not None:
            self.callback_at = book_callback(self.session, self.interview.case_id, self.interview.survey_id, e.slot,
                                             self.clock.now())

    def _cleared(self, e: fx.AnswersCleared) -> None:
        if not e.question_ids:
            return
        if self.interview.id is None:
            self.session.flush()  # inserts the interview, then writes its answers
        self._write_pending()
        gone = _answers.c.interview_id == self.interview.id, _answers.c.question_id.in_(e.question_ids)
        before: dict[str, Any] = {qid: code if codes is None else codes for qid, code, codes in self.session.execute(
            select(_answers.c.question_id, _answers.c.code, _answers.c.codes).where(*gone))}
        self.session.execute(delete(_answers).where(*gone))
        self.session.add(AuditLog(at=self.clock.now(), user_id=self.user_id, action="answers_cleared",
                                  entity="interview", entity_id=str(self.interview.id), before=before,
                                  after={"reason": "resident chose to start over"}))
        self.session.expire(self.interview, ["answers"])
