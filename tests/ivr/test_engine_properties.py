"""Random key, silence, recording and hang-up sequences against the engine (hypothesis).

Whatever a resident (or a line) does, the engine must not crash, must store only answers that the
question allows, must never put an answered question again (consent excepted until it is given),
and must end once the resident falls silent. Hang-ups are followed by a new call that resumes the same interview.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engine_driver import WALK_ALL, parse
from hypothesis import event as note_event
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.engine import (
    Answered,
    AnswerGiven,
    AnswersCleared,
    Digits,
    Engine,
    Event,
    HangUp,
    OperatorRequested,
    Phase,
    RecordingDone,
    Step,
    Timeout,
)
from survey.clock import VirtualClock
from survey.questionnaire import load_bundled
from survey.questionnaire import model as qm
from survey.vocabulary import RESUMABLE, AnswerStatus

Q = load_bundled()
KEYS = "0123456789*#"
SILENCE_LIMIT = 200  # timeouts that must be enough to end any interview of the bundled questionnaire

whole_entry = st.builds(Digits, st.text(alphabet=KEYS, max_size=4), st.just(True))
one_key = st.builds(Digits, st.sampled_from(KEYS), st.just(False))
# Plausible entries and the edge cases that matter (a repeated choice, 0, the range limits).
likely = st.builds(Digits, st.sampled_from(["1", "1", "2", "4", "6", "9", "13#", "11#", "0#", "99#", "150", "*"]))
recording = st.builds(RecordingDone, st.sampled_from([None, "rec/x.wav"]), st.floats(0, 120))
# Plausible keys are frequent enough that interviews get deep into the questionnaire.
events = st.one_of(likely, likely, likely, whole_entry, one_key, st.just(Timeout()), recording, st.just(HangUp()))


def check_answer(answer: AnswerGiven) -> None:
    q = Q.question(answer.question_id)
    assert q.collects_answer
    if answer.status != AnswerStatus.ANSWERED:
        assert answer.status == AnswerStatus.NO_ANSWER
        assert answer.code is None and answer.codes is None and answer.value is None
        return
    if q.type in (qm.SINGLE, qm.YESNO):
        assert answer.code in q.codes
    elif q.type == qm.MULTIPLE:
        assert answer.codes and set(answer.codes) <= q.codes
        assert len(answer.codes) == len(set(answer.codes)) <= (q.max_choices or len(q.choices))
    elif q.type == qm.NUMBER:
        assert answer.value is not None and answer.value == int(answer.value)
        assert (q.min or 0) <= answer.value <= (q.max if q.max is not None else answer.value)
    else:
        assert q.type == qm.OPEN and answer.recording_path is not None and answer.recording_seconds > 0


class Resident:
    """Feeds events across as many calls as the hang-ups make, checking every step."""

    def __init__(self, language: str | None, can_transfer: bool, interviewer: bool) -> None:
        self.clock = VirtualClock(datetime(2026, 11, 2, 10, 30))
        self.can_transfer = can_transfer
        self.interviewer = interviewer
        self.engine = Engine(Q, self.clock, language=language, can_transfer=can_transfer, interviewer=interviewer)
        self.answered: set[str] = set()
        self.last = self.handle(Answered())

    def walk_to(self, question_id: str) -> None:
        """Answer validly (language 1, then ``WALK_ALL``) until ``question_id`` is asked."""
        if self.engine.phase is Phase.LANGUAGE:
            self.handle(Digits("1"))
        while self.last.question_id != question_id:
            for event in parse(WALK_ALL[str(self.engine.question)]):
                self.handle(event)

    def handle(self, event: Event) -> Step:
        self.clock.advance(timedelta(seconds=1))
        step = self.engine.handle(event)
        for effect in self.engine.drain_effects():
            if isinstance(effect, AnswerGiven):
                check_answer(effect)
                self.answered.add(effect.question_id)
            elif isinstance(effect, AnswersCleared):
                self.answered -= set(effect.question_ids)
            assert not (self.interviewer and isinstance(effect, OperatorRequested))  # the interviewer is the operator
        if not self.engine.consent:  # a call-back request is not consent: asked again next time
            self.answered.discard("consent")
        self.check(step)
        self.last = step
        return step

    def check(self, step: Step) -> None:
        if self.engine.finished:
            assert step.hangup or step.transfer
            return
        assert step.collect is not None or step.record is not None or step.keep_playing
        assert step.question_id not in self.answered

    def next_call(self) -> bool:
        """After a hang-up: call again if the interview can resume. False when it is over for good."""
        if self.engine.status not in RESUMABLE:
            return False
        self.engine = Engine(Q, self.clock, state=self.engine.snapshot(), can_transfer=self.can_transfer,
                             interviewer=self.interviewer)
        self.handle(Answered())
        return True


STARTS = [None] + [q.id for q in Q.questions if q.collects_answer]


@settings(max_examples=1000, deadline=None)
@given(script=st.lists(events, max_size=80), start_at=st.sampled_from(STARTS),
       language=st.sampled_from([None, "zh", "en"]), can_transfer=st.booleans(), interviewer=st.booleans())
def test_random_input_never_breaks_the_interview(script: list[Event], start_at: str | None, language: str | None,
                                                 can_transfer: bool, interviewer: bool) -> None:
    resident = Resident(language, can_transfer, interviewer)
    if start_at is not None:
        resident.walk_to(start_at)
    for event in script:
        if resident.engine.finished and not resident.next_call():
            break
        resident.handle(event)
    for _ in range(SILENCE_LIMIT):
        if resident.engine.finished:
            break
        resident.handle(Timeout())
    assert resident.engine.finished
    note_event(f"ended {resident.engine.status}")
    note_event(f"answered {len(resident.answered) // 4 * 4}+ questions")


@settings(max_examples=100, deadline=None)
@given(script=st.lists(events, max_size=40))
def test_the_same_events_give_the_same_interview(script: list[Event]) -> None:
    def run() -> tuple[object, ...]:
        clock = VirtualClock(datetime(2026, 11, 2, 10, 30))
        engine = Engine(Q, clock)
        steps = [engine.handle(Answered())]
        for event in script:
            clock.advance(timedelta(seconds=2))
            steps.append(engine.handle(event))
        return tuple(steps), tuple(engine.drain_effects()), repr(engine.snapshot())

    assert run() == run()
