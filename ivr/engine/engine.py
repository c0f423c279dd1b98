"""The interview state machine.

One :class:`Engine` per interview and call. It is deterministic: given the questionnaire, the
state it was restored from, the clock and the events, it produces the same steps and effects.
Phases: ``new``, ``language`` (1 普通话 / 2 English), ``resume`` (continue or start over),
``question``, ``callback`` (when the resident asks to be called back), ``ended``.

In every menu and question the repeat key (``*``) plays it again without counting as a re-prompt,
and the operator key (``0``) asks for a person, except on a number question whose range holds 0,
where ``0`` is the answer. In an interviewer-led interview (CATI, face to face) the one entering
the keys is that person: there the operator key is only ever an entry, answered or re-asked as
any other key.

The state is an :class:`~ivr.engine.state.InterviewState`; :meth:`Engine.snapshot` is its stored
form, from which the next call resumes (:mod:`ivr.engine.state` documents the format and its versions).
"""

from __future__ import annotations

from typing import Any

from ivr.engine import effects as fx
from ivr.engine.events import Answered, Digits, Event, HangUp, RecordingDone, Timeout
from ivr.engine.input import Entry, parse_entry
from ivr.engine.state import InterviewState, Phase, stored_state
from ivr.engine.steps import Collect, Prompt, Record, Step
from survey.clock import Clock
from survey.questionnaire import model as qm
from survey.vocabulary import AnswerStatus, InterviewStatus

_RESUMABLE = (InterviewStatus.IN_PROGRESS, InterviewStatus.PARTIAL, InterviewStatus.OPERATOR)
_MENUS = {Phase.LANGUAGE: "language_menu", Phase.RESUME: "resume_menu", Phase.CALLBACK: "callback_menu"}


class Engine:
    def __init__(self, questionnaire: qm.Questionnaire, clock: Clock, *, state: dict[str, Any] | None = None,
                 language: str | None = None, can_transfer: bool = False, ask_language: bool = True,
                 interviewer: bool = False, recorded: bool = False) -> None:
        """``state`` is a stored state (:meth:`snapshot`, of any version) to resume from; the
        engine copies it, so the caller's dict (often an ORM attribute) never changes under it.
        ``interviewer``: a staff member enters the keys (CATI, F2F), so the operator key never
        asks for an operator. ``recorded``: the whole call is recorded, which the resident is told
        before the consent question (``msg/call_recorded``)."""
        self.q = questionnaire
        self.clock = clock
        self.can_transfer = can_transfer
        self.interviewer = interviewer
        self.recorded = recorded
        restored = stored_state(state)
        self._state = restored if restored is not None else self._fresh_state(language)
        # Ask for a language on a first call, and again if the resident left before the interview began.
        self._ask_language = ask_language and not self.began and (language is None or state is not None)
        self._effects: list[fx.Effect] = []

    # -- public API -------------------------------------------------------------------------

    @property
    def language(self) -> str:
        return self._state.language

    @property
    def status(self) -> InterviewStatus:
        return self._state.status

    @property
    def phase(self) -> Phase:
        return self._state.phase

    @property
    def question(self) -> str | None:
        """The question asked last (None before the first and once the interview is complete)."""
        return self._state.question

    @property
    def consent(self) -> bool | None:
        """True once the resident agreed at the consent question, False if they did not agree
        (refused, opted out or asked for a call-back), None before it was answered."""
        return self._state.consent

    @property
    def finished(self) -> bool:
        return self._state.phase is Phase.ENDED

    @property
    def answers(self) -> dict[str, Any]:
        return dict(self._state.answers)

    @property
    def began(self) -> bool:
        """The resident answered something (consent included): the interview has begun."""
        return bool(self._state.answers) or bool(self._state.consent)

    @property
    def reported_status(self) -> str | None:
        """What a channel reports as ``CallResult.interview_status``: None when the resident left
        (hung up or stayed silent) before the interview began, which the dialer treats as a soft
        refusal to retry; otherwise the interview status."""
        if self.status == InterviewStatus.IN_PROGRESS and not self.began:
            return None
        return self.status

    def snapshot(self) -> dict[str, Any]:
        """The state's stored form (a new object every time); :class:`Engine` resumes from it."""
        return self._state.to_json()

    def drain_effects(self) -> list[fx.Effect]:
        out, self._effects = self._effects, []
        return out

    def handle(self, event: Event) -> Step:
        if isinstance(event, Answered):
            return self._start()
        if self.finished:
            return Step(hangup=True)
        if isinstance(event, HangUp):
            return self._hang_up()
        phase = self._state.phase
        if phase is Phase.NEW:  # a key before the answer event (providers may reorder): start first
            return self._start()
        if phase in _MENUS:
            return self._on_menu(phase, event)
        return self._on_question(event)

    # -- starting ---------------------------------------------------------------------------

    def _fresh_state(self, language: str | None) -> InterviewState:
        return InterviewState(language=language if language in self.q.languages else self.q.languages[0])

    def _start(self) -> Step:
        st = self._state
        if st.status not in _RESUMABLE and st.phase is not Phase.NEW:  # answered again after it ended
            return self._end(st.status, "goodbye_complete" if st.status == InterviewStatus.COMPLETE else None)
        self._set_status(InterviewStatus.IN_PROGRESS)
        if self._ask_language and len(self.q.languages) > 1 and self.q.settings.language_menu:
            return self._open_menu(Phase.LANGUAGE)
        if self._has_progress():
            return self._open_menu(Phase.RESUME, self._msg("resume"))
        first = self._first_applicable(0)
        return self._ask(first) if first else self._complete(())

    def _has_progress(self) -> bool:
        """The resident agreed to the interview (or, without a consent question, answered something),
        so a new call resumes rather than starts again with the introduction."""
        st = self._state
        has_consent_question = any(q.role == "consent" for q in self.q.questions)
        agreed = bool(st.consent) if has_consent_question else bool(st.answers)
        return st.question is not None and agreed

    def _open_menu(self, phase: Phase, *before: Prompt) -> Step:
        self._state.phase, self._state.reprompts = phase, 0
        return self._menu(phase, *before)

    def _menu(self, phase: Phase, *before: Prompt) -> Step:
        self._state.buffer = ""
        prompts = (*before, self._msg(_MENUS[phase]))
        return Step(prompts=prompts, collect=Collect(1, 1, None, self.q.settings.input_timeout))

    def _on_menu(self, phase: Phase, event: Event) -> Step:
        key = _single_key(event)
        if key == self.q.settings.repeat_key:
            return self._menu(phase)
        if self._asks_for_operator(key):
            return self._operator(None)
        if phase is Phase.LANGUAGE:
            return self._on_language(key)
        if phase is Phase.RESUME:
            return self._on_resume(key)
        return self._on_callback(key)

    def _menu_retry(self, phase: Phase, key: str | None) -> Step | None:
        """The menu again after an invalid key or silence, or None once the re-prompts are used up."""
        if not self._retry_allowed():
            return None
        return self._menu(phase, self._msg("invalid" if key else "timeout"))

    def _on_language(self, key: str | None) -> Step:
        languages = self.q.languages
        index = int(key) - 1 if key and key.isdigit() else -1
        if not 0 <= index < len(languages):
            retry = self._menu_retry(Phase.LANGUAGE, key)
            if retry is not None:
                return retry
            index = 0
        self._state.language = languages[index]
        self._effects.append(fx.LanguageChosen(languages[index]))
        self._ask_language = False
        self._state.phase = Phase.NEW
        return self._start()

    def _on_resume(self, key: str | None) -> Step:
        if key == "2":
            return self._start_over()
        if key not in (None, "1"):  # silence continues: the resident is already in the interview
            retry = self._menu_retry(Phase.RESUME, key)
            if retry is not None:
                return retry
        return self._ask(self._current_question().id)

    def _start_over(self) -> Step:
        kept = {q.id for q in self.q.questions if q.role in ("consent", "screening")}
        answers = self._state.answers
        cleared = tuple(qid for qid in answers if qid not in kept)
        for qid in cleared:
            del answers[qid]
        self._effects.append(fx.AnswersCleared(cleared))
        first = self._first_substantive()
        return self._ask(first) if first else self._complete(())

    # -- questions --------------------------------------------------------------------------

    def _ask(self, question_id: str, *before: Prompt) -> Step:
        """Prompts for ``question_id`` (chaining through message items) and its input.

        Asking a question anew resets its re-prompt count and its timer; a repeat (``*``) keeps both.
        """
        prompts = list(before)
        q: qm.Question | None = self.q.question(question_id)
        while q is not None and q.type == qm.MESSAGE:
            prompts.append(self._prompt(q, "text"))
            nxt = self._next_after(q, None)
            q = self.q.question(nxt) if nxt else None
        if q is None:
            return self._complete(tuple(prompts))
        st = self._state
        if st.question != q.id or st.phase is not Phase.QUESTION:
            st.reprompts, st.asked_at = 0, self.clock.now()
        st.phase, st.question, st.buffer = Phase.QUESTION, q.id, ""
        self._effects.append(fx.StatusChanged(st.status, q.id))
        if self.recorded and q.role == "consent":  # told before agreeing to anything
            prompts.append(self._msg("call_recorded"))
        prompts.append(self._prompt(q, "text"))
        return self._input_step(q, tuple(prompts))

    def _input_step(self, q: qm.Question, prompts: tuple[Prompt, ...]) -> Step:
        timeout = self.q.settings.input_timeout
        if q.type == qm.OPEN:
            return Step(prompts=prompts, record=Record(q.max_seconds), question_id=q.id)
        if q.type in (qm.NUMBER, qm.MULTIPLE):
            return Step(prompts=prompts, collect=Collect(None, _max_keys(q), "#", timeout), question_id=q.id)
        return Step(prompts=prompts, collect=Collect(1, 1, None, timeout), question_id=q.id)

    def _current_question(self) -> qm.Question:
        question_id = self._state.question
        assert question_id is not None, "phases question and resume are entered with a question"
        return self.q.question(question_id)

    def _on_question(self, event: Event) -> Step:
        q = self._current_question()
        if isinstance(event, RecordingDone):
            return self._on_recording(q, event)
        if isinstance(event, Digits) and not event.complete:
            entry = self._buffer_key(q, event.digits)
            if entry is None:
                return Step(keep_playing=True, question_id=q.id)
        elif isinstance(event, Timeout) and self._state.buffer:
            entry, self._state.buffer = self._state.buffer, ""
        else:
            entry = event.digits if isinstance(event, Digits) else None
        return self._on_entry(q, entry)

    def _buffer_key(self, q: qm.Question, key: str) -> str | None:
        """Add one key; the whole entry once it is complete, else None."""
        st = self._state
        if not st.buffer and self._control(q, key):
            return key
        if q.type in (qm.NUMBER, qm.MULTIPLE):
            if key == "#":
                entry, st.buffer = st.buffer + "#", ""
                return entry
            st.buffer += key
            if len(st.buffer) >= _max_keys(q):
                entry, st.buffer = st.buffer, ""
                return entry
            return None
        return key

    def _control(self, q: qm.Question, keys: str) -> bool:
        """Is this whole entry the repeat or the operator key (rather than an answer)?"""
        if keys == self.q.settings.repeat_key:
            return True
        return self._asks_for_operator(keys) and not _zero_is_an_answer(q)

    def _asks_for_operator(self, keys: str | None) -> bool:
        """Is this whole entry the operator key, pressed by a resident? An interviewer entering
        it means the digit (an answer, or a key the question refuses), never a call for themself."""
        return keys == self.q.settings.operator_key and not self.interviewer

    def _on_entry(self, q: qm.Question, raw: str | None) -> Step:
        settings = self.q.settings
        keys = (raw.rstrip("#") or raw) if raw is not None else None
        if keys is not None and self._control(q, keys):
            return self._ask(q.id) if keys == settings.repeat_key else self._operator(q)
        entry: Entry | str = parse_entry(q, raw) if raw is not None else "timeout"
        if isinstance(entry, Entry):
            return self._accept(q, entry)
        return self._reprompt(q, entry)

    def _reprompt(self, q: qm.Question, reason: str) -> Step:
        st = self._state
        if st.reprompts >= self.q.settings.max_reprompts:
            return self._give_up(q)
        st.reprompts += 1
        text = q.reprompt or q.text
        prompts = (self._msg(reason), Prompt(f"{q.id}/reprompt" if q.reprompt else f"{q.id}/text",
                                             qm.text_in(text, self.language), self.language))
        st.buffer = ""
        return self._input_step(q, prompts)

    def _give_up(self, q: qm.Question) -> Step:
        if q.role == "consent":  # never began: the interview waits for the next call
            return self._end(self.status, "goodbye_refused")
        if q.role == "screening":
            return self._end(InterviewStatus.BREAK_OFF, "goodbye_refused")
        self._store(q, Entry(status=AnswerStatus.NO_ANSWER, raw=""))
        return self._advance(q, None)

    def _on_recording(self, q: qm.Question, event: RecordingDone) -> Step:
        if q.type != qm.OPEN:
            return self._input_step(q, ())
        usable = event.path is not None and event.duration_s > 0 and event.duration_s >= q.min_seconds
        status = AnswerStatus.ANSWERED if usable else AnswerStatus.NO_ANSWER
        self._store(q, Entry(status=status, raw="recording"), recording=event)
        return self._advance(q, None)

    def _accept(self, q: qm.Question, entry: Entry) -> Step:
        self._store(q, entry)
        choice = q.choice_for_code(entry.code) if entry.code is not None else None
        if q.role == "consent" and choice is not None:
            self._state.consent = choice.end is None
        if choice is not None and choice.end:
            return self._choice_end(choice.end)
        return self._advance(q, choice.goto if choice else None)

    def _choice_end(self, end: str) -> Step:
        if end == qm.END_CALLBACK:
            return self._open_menu(Phase.CALLBACK)
        if end == qm.END_OPTED_OUT:
            self._effects.append(fx.OptedOut())
            return self._end(InterviewStatus.OPTED_OUT, "goodbye_opted_out")
        if end == qm.END_SCREENED_OUT:
            return self._end(InterviewStatus.SCREENED_OUT, "goodbye_screened_out")
        return self._end(InterviewStatus.REFUSED, "goodbye_refused")

    def _on_callback(self, key: str | None) -> Step:
        slot = qm.CALLBACK_SLOTS.get(int(key)) if key and key.isdigit() else None
        if slot is None:
            retry = self._menu_retry(Phase.CALLBACK, key)
            if retry is not None:
                return retry
        self._effects.append(fx.CallbackRequested(slot))
        return self._end(InterviewStatus.CALLBACK, "callback_confirm")

    def _operator(self, q: qm.Question | None) -> Step:
        transfer = self.can_transfer
        self._effects.append(fx.OperatorRequested(q.id if q else None, transfer))
        self._set_status(InterviewStatus.OPERATOR)
        self._state.phase = Phase.ENDED
        message = "transfer" if transfer else "operator"
        return Step(prompts=(self._msg(message),), hangup=not transfer, transfer=transfer)

    def _advance(self, q: qm.Question, goto: str | None) -> Step:
        nxt = self._next_after(q, goto)
        return self._ask(nxt) if nxt else self._complete(())

    def _complete(self, before: tuple[Prompt, ...]) -> Step:
        self._state.question = None
        return self._end(InterviewStatus.COMPLETE, "goodbye_complete", before)

    def _end(self, status: InterviewStatus, message: str | None, before: tuple[Prompt, ...] = ()) -> Step:
        self._set_status(status)
        self._state.phase = Phase.ENDED
        prompts = (*before, self._msg(message)) if message else before
        return Step(prompts=prompts, hangup=True)

    def _hang_up(self) -> Step:
        st = self._state
        if st.phase is Phase.CALLBACK:  # asked to be called back, hung up before picking a time
            self._effects.append(fx.CallbackRequested(None))
            self._set_status(InterviewStatus.CALLBACK)
        elif st.status is InterviewStatus.IN_PROGRESS and self.began:
            self._set_status(InterviewStatus.PARTIAL)  # a hang-up before it began leaves it to start again
        st.phase = Phase.ENDED
        return Step(hangup=True)

    # -- helpers ----------------------------------------------------------------------------

    def _store(self, q: qm.Question, entry: Entry, recording: RecordingDone | None = None) -> None:
        st = self._state
        asked = st.asked_at or self.clock.now()
        elapsed = max(0, int((self.clock.now() - asked).total_seconds() * 1000))
        st.answers[q.id] = entry.value_for_logic()
        st.seq += 1
        self._effects.append(fx.AnswerGiven(
            question_id=q.id, status=entry.status, seq=st.seq, code=entry.code, codes=entry.codes,
            value=entry.value, raw_input=entry.raw, duration_ms=elapsed, reprompts=st.reprompts,
            recording_path=recording.path if recording else None,
            recording_seconds=recording.duration_s if recording else 0.0,
            recording_provider_id=recording.provider_id if recording else None))

    def _set_status(self, status: InterviewStatus) -> None:
        if self._state.status is not status:
            self._state.status = status
            self._effects.append(fx.StatusChanged(status, self._state.question))

    def _retry_allowed(self) -> bool:
        if self._state.reprompts >= self.q.settings.max_reprompts:
            return False
        self._state.reprompts += 1
        return True

    def _next_after(self, q: qm.Question, goto: str | None) -> str | None:
        start = self.q.index_of(goto) if goto else self.q.index_of(q.id) + 1
        return self._first_applicable(start)

    def _first_applicable(self, start: int) -> str | None:
        answers = self._state.answers
        for q in self.q.questions[start:]:
            if q.when is None or q.when.evaluate(answers):
                return q.id
        return None

    def _first_substantive(self) -> str | None:
        roles = ("consent", "screening")
        last = max((i for i, q in enumerate(self.q.questions) if q.role in roles), default=-1)
        return self._first_applicable(last + 1)

    def _prompt(self, q: qm.Question, part: str) -> Prompt:
        text = qm.text_in(q.text, self.language)
        return Prompt(f"{q.id}/{part}", text, self.language)

    def _msg(self, name: str) -> Prompt:
        return Prompt(f"msg/{name}", self.q.message(name, self.language), self.language)


def _single_key(event: Event) -> str | None:
    if isinstance(event, Digits) and event.digits:
        return event.digits.rstrip("#")[:1] or event.digits[:1]
    return None


def _max_keys(q: qm.Question) -> int:
    """The most keys an entry for a number or multiple-choice question can have."""
    if q.type == qm.MULTIPLE:
        return len(q.choices)
    return q.max_digits or len(str(int(abs(q.max or 0)))) or 1


def _zero_is_an_answer(q: qm.Question) -> bool:
    """On a number question whose range holds 0 (e.g. years lived here), ``0`` is a number."""
    return q.type == qm.NUMBER and (q.min is None or q.min <= 0) and (q.max is None or q.max >= 0)
