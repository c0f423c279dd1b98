"""The engine walked through every branch of the bundled questionnaire (pure: no database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pytest
from engine_driver import WALK_ALL, Call

from ivr.engine import (
    Answered,
    AnswerGiven,
    AnswersCleared,
    CallbackRequested,
    Digits,
    Engine,
    LanguageChosen,
    OperatorRequested,
    OptedOut,
)
from survey.clock import VirtualClock
from survey.questionnaire import Questionnaire, load_bundled
from survey.questionnaire import model as qm
from survey.vocabulary import AnswerStatus, InterviewStatus

Q = load_bundled()
# Language 1, consent 1, both screeners 1, q_safety 2 (no worries), q_trend .. q_overall 1,
# no suggestion, age group 2, male, 12 years.
COMPLETE = "1 1 1 1 2 1 1 1 1 1 1 2 2 1 12#"
TO_POLICE = "1 1 1 1 2 1"  # language, consent, screeners, q_safety, q_trend: q_police is next


@pytest.fixture
def q() -> Questionnaire:
    return Q


def call(clock: VirtualClock, **kwargs: object) -> Call:
    return Call(Q, clock, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Path:
    name: str
    script: str
    status: str
    last_prompt: str
    codes: dict[str, int] = field(default_factory=dict)
    effect: object = None


PATHS = [
    Path("complete", COMPLETE, InterviewStatus.COMPLETE, "msg/goodbye_complete",
         {"consent": 1, "q_safety": 2, "q_overall": 1, "q_suggest_yn": 2, "d_age": 2, "d_sex": 1}),
    Path("refusal at consent", "1 3", InterviewStatus.REFUSED, "msg/goodbye_refused", {"consent": 3}),
    Path("under 18", "1 1 2", InterviewStatus.SCREENED_OUT, "msg/goodbye_screened_out", {"s_age": 2}),
    Path("not resident", "1 1 1 2", InterviewStatus.SCREENED_OUT, "msg/goodbye_screened_out",
         {"s_age": 1, "s_resident": 2}),
    Path("opt-out", "1 9", InterviewStatus.OPTED_OUT, "msg/goodbye_opted_out", {"consent": 9}, OptedOut()),
    Path("operator", TO_POLICE + " 0", InterviewStatus.OPERATOR, "msg/operator", {"q_trend": 1},
         OperatorRequested("q_police", transferred=False)),
    Path("operator, one key at a time", "~1 ~1 ~1 ~1 ~2 ~1 ~0", InterviewStatus.OPERATOR, "msg/operator",
         {"q_trend": 1}, OperatorRequested("q_police", transferred=False)),
    Path("operator at the language menu", "0", InterviewStatus.OPERATOR, "msg/operator", {},
         OperatorRequested(None, transferred=False)),
    Path("callback this evening", "1 2 1", InterviewStatus.CALLBACK, "msg/callback_confirm", {"consent": 2},
         CallbackRequested("this_evening")),
    Path("callback: invalid key, then weekend", "1 2 7 3", InterviewStatus.CALLBACK, "msg/callback_confirm",
         {"consent": 2}, CallbackRequested("weekend")),
    Path("callback: silence", "1 2 T T T", InterviewStatus.CALLBACK, "msg/callback_confirm", {"consent": 2},
         CallbackRequested(None)),
    Path("callback: hang-up at the menu", "1 2 H", InterviewStatus.CALLBACK, "", {"consent": 2},
         CallbackRequested(None)),
    # Leaving before the interview began keeps it open for the next call (the dialer's soft refusal).
    Path("silence at consent", "1 T T T", InterviewStatus.IN_PROGRESS, "msg/goodbye_refused"),
    Path("hang-up during the introduction", "1 H", InterviewStatus.IN_PROGRESS, ""),
    Path("silence at a screening question", "1 1 T T T", InterviewStatus.BREAK_OFF, "msg/goodbye_refused",
         {"consent": 1}),
    Path("hang-up after consent", "1 1 1 H", InterviewStatus.PARTIAL, "", {"consent": 1, "s_age": 1}),
]


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_every_branch_ends_with_its_status_answers_and_message(path: Path, clock: VirtualClock) -> None:
    c = call(clock)
    step = c.run(path.script)
    assert c.engine.status == path.status
    assert c.engine.finished
    assert step.hangup
    assert (c.prompt_keys[-1] if c.prompt_keys else "") == path.last_prompt
    answers = c.answers()
    assert {qid: answers[qid].code for qid in path.codes} == path.codes
    if path.effect is not None:
        assert path.effect in c.effects


def test_a_complete_interview_stores_every_asked_question_once_in_order(clock: VirtualClock) -> None:
    c = call(clock)
    c.run(COMPLETE)
    answers = c.answers()
    assert list(answers) == c.asked
    assert "q_worries" not in answers and "q_suggest" not in answers  # skipped by their conditions
    assert [a.seq for a in answers.values()] == list(range(1, len(answers) + 1))
    assert answers["d_years"].value == 12.0 and answers["d_years"].raw_input == "12"  # without the "#" that ends it
    assert all(a.status == AnswerStatus.ANSWERED and a.reprompts == 0 for a in answers.values())


def test_walking_every_question_reaches_the_conditional_ones(clock: VirtualClock) -> None:
    c = call(clock)
    c.run("1")
    c.walk(WALK_ALL)
    answers = c.answers()
    assert c.engine.status == InterviewStatus.COMPLETE
    assert set(answers) == {q.id for q in Q.questions if q.collects_answer}
    assert answers["q_worries"].codes == (1, 3)
    assert answers["q_suggest"].recording_path == "rec/a.wav" and answers["q_suggest"].recording_seconds == 12
    assert answers["q_procuratorate"].code == 8  # key 6 is "don't know", stored as code 8


def test_intro_plays_before_consent_and_every_prompt_is_in_the_chosen_language(clock: VirtualClock) -> None:
    c = call(clock)
    step = c.start()
    assert [p.key for p in step.prompts] == ["msg/language_menu"]
    step = c.run("2")
    assert [p.key for p in step.prompts] == ["intro/text", "consent/text"]
    assert step.prompts[0].text.startswith("Hello")
    assert LanguageChosen("en") in c.effects
    c.run("1 1 1 2 1 1 1 1 1 1 2 2 1 12#")
    assert c.engine.status == InterviewStatus.COMPLETE
    assert {p.language for s in c.steps[1:] for p in s.prompts} == {"en"}


def test_silence_at_the_language_menu_falls_back_to_mandarin(clock: VirtualClock) -> None:
    c = call(clock)
    step = c.run("T T")
    assert [p.key for p in step.prompts] == ["msg/timeout", "msg/language_menu"]
    step = c.run("T")
    assert step.question_id == "consent" and c.engine.language == "zh"


def test_a_known_language_skips_the_menu(clock: VirtualClock) -> None:
    step = call(clock, language="en").start()
    assert step.question_id == "consent" and step.prompts[0].language == "en"


def test_star_repeats_the_question_without_counting_a_reprompt(clock: VirtualClock) -> None:
    c = call(clock)
    c.run(TO_POLICE)
    step = c.run("*")
    assert step.question_id == "q_police"
    assert [p.key for p in step.prompts] == ["q_police/text"]
    c.run("* 1")
    answer = c.answers()["q_police"]
    assert answer.code == 1 and answer.reprompts == 0


def test_repeat_keeps_the_timer_running(clock: VirtualClock) -> None:
    c = call(clock, think_s=3.0)
    c.run(TO_POLICE + " * * 1")
    assert c.answers()["q_police"].duration_ms == 9000  # asked once, three 3-second waits


def test_an_invalid_key_reprompts_with_the_reprompt_text(clock: VirtualClock) -> None:
    c = call(clock)
    c.run(TO_POLICE)
    step = c.run("7")
    assert [p.key for p in step.prompts] == ["msg/invalid", "q_police/reprompt"]
    assert step.prompts[1].text == Q.question("q_police").reprompt["zh"]  # type: ignore[index]
    c.run("3")
    answer = c.answers()["q_police"]
    assert (answer.code, answer.reprompts, answer.raw_input) == (3, 1, "3")


def test_a_question_without_reprompt_text_repeats_its_text(clock: VirtualClock) -> None:
    c = call(clock)
    step = c.run("1 1 1 1 2 T")  # q_trend has no reprompt text
    assert [p.key for p in step.prompts] == ["msg/timeout", "q_trend/text"]


def test_reprompts_run_out_and_the_question_is_recorded_as_no_answer(clock: VirtualClock) -> None:
    c = call(clock)
    c.run(TO_POLICE)
    step = c.run("T 7")
    assert [p.key for p in step.prompts] == ["msg/invalid", "q_police/reprompt"]
    step = c.run("T")  # a third failure: max_reprompts is 2
    assert step.question_id == "q_court"
    answer = c.answers()["q_police"]
    assert (answer.status, answer.code, answer.reprompts) == (AnswerStatus.NO_ANSWER, None, 2)


def test_no_answer_to_safety_skips_the_worries_follow_up(clock: VirtualClock) -> None:
    c = call(clock)
    step = c.run("1 1 1 1 T T T")
    assert c.answers()["q_safety"].status == AnswerStatus.NO_ANSWER
    assert step.question_id == "q_trend"


@pytest.mark.parametrize(("safety", "next_question"), [("4", "q_worries"), ("5", "q_worries"), ("3", "q_trend"),
                                                       ("6", "q_trend")])
def test_skip_logic_on_feeling_unsafe(safety: str, next_question: str, clock: VirtualClock) -> None:
    step = call(clock).run(f"1 1 1 1 {safety}")
    assert step.question_id == next_question


@pytest.mark.parametrize(("wants", "next_question"), [("1", "q_suggest"), ("2", "d_age")])
def test_skip_logic_on_leaving_a_suggestion(wants: str, next_question: str, clock: VirtualClock) -> None:
    step = call(clock).run(f"1 1 1 1 2 1 1 1 1 1 1 {wants}")
    assert step.question_id == next_question


@pytest.mark.parametrize(("entry", "codes"), [("13#", (1, 3)), ("31#", (1, 3)), ("~62#", (2, 6)),
                                              ("123456", (1, 2, 3, 4, 5, 6)), ("~123456", (1, 2, 3, 4, 5, 6))])
def test_multiple_choice_collects_keys_until_hash(entry: str, codes: tuple[int, ...], clock: VirtualClock) -> None:
    c = call(clock)
    step = c.run("1 1 1 1 4")
    assert step.collect is not None and step.collect.finish_key == "#" and step.collect.max_digits == 6
    step = c.run(entry)
    assert step.question_id == "q_trend"
    assert c.answers()["q_worries"].codes == codes


@pytest.mark.parametrize("entry", ["11#", "17#", "#"])
def test_multiple_choice_rejects_repeated_unknown_or_no_keys(entry: str, clock: VirtualClock) -> None:
    c = call(clock)
    step = c.run(f"1 1 1 1 4 {entry}")
    assert step.question_id == "q_worries" and step.prompts[0].key == "msg/invalid"


def test_a_number_out_of_range_is_refused_with_its_own_message(clock: VirtualClock) -> None:
    c = call(clock)
    step = c.run(COMPLETE.rsplit(" ", 1)[0] + " 150")
    assert step.question_id == "d_years"
    assert [p.key for p in step.prompts] == ["msg/out_of_range", "d_years/text"]
    c.run("40#")
    answer = c.answers()["d_years"]
    assert (answer.value, answer.reprompts) == (40.0, 1)


def test_keys_one_at_a_time_end_a_number_at_its_digit_limit(clock: VirtualClock) -> None:
    c = call(clock)
    c.run(COMPLETE.rsplit(" ", 1)[0])
    step = c.run("~3")
    assert step.keep_playing and step.question_id == "d_years"
    c.run("~5")
    assert c.engine.status == InterviewStatus.COMPLETE and c.answers()["d_years"].value == 35.0


@pytest.mark.parametrize("entry", ["0#", "0", "~0#"])
def test_zero_is_an_answer_where_the_range_holds_it(entry: str, clock: VirtualClock) -> None:
    c = call(clock)
    c.run(COMPLETE.rsplit(" ", 1)[0] + " " + entry)
    assert c.engine.status == InterviewStatus.COMPLETE
    assert c.answers()["d_years"].value == 0.0
    assert not c.of(OperatorRequested)


def test_a_number_entry_ended_by_silence_is_taken(clock: VirtualClock) -> None:
    c = call(clock)
    c.run(COMPLETE.rsplit(" ", 1)[0] + " ~7 T")
    assert c.answers()["d_years"].value == 7.0


def test_the_open_question_records_a_voice_answer(clock: VirtualClock) -> None:
    c = call(clock)
    step = c.run("1 1 1 1 2 1 1 1 1 1 1 1")
    assert step.record is not None and step.record.max_seconds == 60 and step.collect is None
    step = c.run("R20")
    assert step.question_id == "d_age"
    answer = c.answers()["q_suggest"]
    assert (answer.status, answer.recording_path, answer.recording_seconds) == (AnswerStatus.ANSWERED,
                                                                                  "rec/a.wav", 20.0)


def test_an_empty_recording_is_no_answer(clock: VirtualClock) -> None:
    c = call(clock)
    step = c.run("1 1 1 1 2 1 1 1 1 1 1 1 R-")
    assert step.question_id == "d_age"
    assert c.answers()["q_suggest"].status == AnswerStatus.NO_ANSWER


def test_operator_transfers_where_the_channel_can(clock: VirtualClock) -> None:
    c = call(clock, can_transfer=True)
    step = c.run(TO_POLICE + " 0")
    assert step.transfer and not step.hangup
    assert [p.key for p in step.prompts] == ["msg/transfer"]
    assert OperatorRequested("q_police", transferred=True) in c.effects
    assert c.run("H").hangup and c.engine.status == InterviewStatus.OPERATOR


def test_star_replays_a_menu_without_using_a_reprompt(clock: VirtualClock) -> None:
    c = call(clock)
    step = c.run("* * * *")
    assert [p.key for p in step.prompts] == ["msg/language_menu"]
    step = c.run("7 7")
    assert [p.key for p in step.prompts] == ["msg/invalid", "msg/language_menu"]
    assert c.run("7").question_id == "consent"


def test_answers_take_the_time_between_asking_and_answering(clock: VirtualClock) -> None:
    c = call(clock, think_s=4.5)
    c.run("1 1 1 1 2")
    assert c.answers()["q_safety"].duration_ms == 4500


def test_a_key_before_the_answer_event_starts_the_call(clock: VirtualClock) -> None:
    c = call(clock)
    step = c.send(Digits("5"))
    assert [p.key for p in step.prompts] == ["msg/language_menu"]


def test_events_after_the_end_only_hang_up(clock: VirtualClock) -> None:
    c = call(clock)
    c.run("1 3")
    before = len(c.effects)
    assert c.run("1 T").hangup
    assert len(c.effects) == before


# -- resuming ---------------------------------------------------------------------------------

ANSWERABLE = [q.id for q in Q.questions if q.collects_answer and q.role != "consent"]


@pytest.mark.parametrize("question_id", ANSWERABLE)
def test_a_dropped_call_resumes_at_the_exact_question(question_id: str, clock: VirtualClock) -> None:
    first = call(clock)
    first.run("1")
    first.walk(WALK_ALL, stop_at=question_id)
    first.run("H")
    assert first.engine.status == InterviewStatus.PARTIAL
    answered_before = set(first.answers())
    assert question_id not in answered_before

    second = call(clock, state=first.engine.snapshot())
    step = second.start()
    assert [p.key for p in step.prompts] == ["msg/resume", "msg/resume_menu"]
    step = second.run("1")
    assert step.question_id == question_id
    second.walk(WALK_ALL)
    assert second.engine.status == InterviewStatus.COMPLETE
    assert not answered_before & set(second.asked)  # nothing answered is asked again
    assert answered_before | set(second.answers()) == {q.id for q in Q.questions if q.collects_answer}


@pytest.mark.parametrize("script", ["1 H", "2 T T T", "1 0"])
def test_leaving_before_consent_starts_the_next_call_from_the_top(script: str, clock: VirtualClock) -> None:
    first = call(clock)
    first.run(script)
    assert not first.engine.began
    assert first.engine.reported_status in (None, InterviewStatus.OPERATOR)
    second = call(clock, state=first.engine.snapshot())
    assert [p.key for p in second.start().prompts] == ["msg/language_menu"]
    assert [p.key for p in second.run("1").prompts] == ["intro/text", "consent/text"]


def test_a_callback_asks_for_consent_again_on_the_next_call(clock: VirtualClock) -> None:
    first = call(clock)
    first.run("1 2 0")  # asks for a callback, then for a person at the slot menu
    assert first.engine.status == InterviewStatus.OPERATOR
    second = call(clock, state=first.engine.snapshot())
    assert [p.key for p in second.start().prompts] == ["intro/text", "consent/text"]


@pytest.mark.parametrize(("script", "reported"), [("1 H", None), ("1 T T T", None), ("1 1 H", "partial"),
                                                  ("1 3", "refused"), ("0", "operator"), (COMPLETE, "complete")])
def test_the_reported_status_is_none_only_before_the_interview_began(script: str, reported: str | None,
                                                                     clock: VirtualClock) -> None:
    c = call(clock)
    c.run(script)
    assert c.engine.reported_status == reported


def test_silence_at_the_resume_menu_continues(clock: VirtualClock) -> None:
    first = call(clock)
    first.run(TO_POLICE + " H")
    second = call(clock, state=first.engine.snapshot())
    assert second.run("T").question_id == "q_police"


def test_starting_over_clears_the_answers_but_keeps_consent_and_screening(clock: VirtualClock) -> None:
    first = call(clock)
    first.run(TO_POLICE + " 1 H")
    second = call(clock, state=first.engine.snapshot())
    step = second.run("2")
    assert step.question_id == "q_safety"
    (cleared,) = second.of(AnswersCleared)
    assert set(cleared.question_ids) == {"q_safety", "q_trend", "q_police"}
    assert set(second.engine.answers) == {"consent", "s_age", "s_resident"}
    second.run("1 1 1 1 1 1 1 2 2 1 12#")
    assert second.engine.status == InterviewStatus.COMPLETE
    assert second.answers()["q_police"].code == 1


def test_an_operator_request_resumes_at_its_question(clock: VirtualClock) -> None:
    first = call(clock)
    first.run(TO_POLICE + " 0")
    second = call(clock, state=first.engine.snapshot())
    assert second.run("1").question_id == "q_police"


def test_a_resumed_interview_keeps_its_language(clock: VirtualClock) -> None:
    first = call(clock)
    first.run("2 1 1 H")
    second = call(clock, state=first.engine.snapshot())
    step = second.start()
    assert {p.language for p in step.prompts} == {"en"}


def test_the_engine_never_changes_the_state_it_was_given(clock: VirtualClock) -> None:
    first = call(clock)
    first.run(TO_POLICE + " H")
    stored = first.engine.snapshot()
    frozen = repr(stored)
    second = call(clock, state=stored)
    second.run("2 1 1")
    assert repr(stored) == frozen


def test_a_finished_interview_does_not_restart(clock: VirtualClock) -> None:
    first = call(clock)
    first.run(COMPLETE)
    second = Engine(Q, clock, state=first.engine.snapshot())
    assert second.handle(Answered()).hangup
    assert second.drain_effects() == []


def test_a_questionnaire_with_one_language_never_asks_for_one() -> None:
    single = qm.Questionnaire(id="t", version="1", languages=("zh",), questions=(
        qm.Question("a", qm.YESNO, {"zh": "是吗"}, choices=(qm.Choice(1, 1, {"zh": "是"}), qm.Choice(2, 2, {"zh": "否"}))),
    ))
    c = Call(single, VirtualClock(datetime(2026, 1, 1)))
    assert c.start().question_id == "a"
    c.run("2")
    assert c.engine.status == InterviewStatus.COMPLETE
    assert [e for e in c.effects if isinstance(e, AnswerGiven)][0].code == 2


def _one_number(minimum: float, **settings: object) -> qm.Questionnaire:
    question = qm.Question("n", qm.NUMBER, {"zh": "几个人？"}, min=minimum, max=20, max_digits=2)
    return qm.Questionnaire(id="t", version="1", languages=("zh",), questions=(question,),
                            settings=qm.Settings(**settings))  # type: ignore[arg-type]


def test_zero_asks_for_the_operator_where_it_is_not_a_valid_number() -> None:
    c = Call(_one_number(1), VirtualClock(datetime(2026, 1, 1)))
    c.start()
    step = c.run("~0")
    assert c.engine.status == InterviewStatus.OPERATOR and step.hangup
    assert OperatorRequested("n", transferred=False) in c.effects


def test_a_hash_repeat_key_repeats_before_any_digit_and_ends_an_entry_after() -> None:
    c = Call(_one_number(0, repeat_key="#"), VirtualClock(datetime(2026, 1, 1)))
    c.start()
    step = c.run("~#")
    assert step.question_id == "n" and [p.key for p in step.prompts] == ["n/text"]
    c.run("~7 ~#")
    assert c.engine.status == InterviewStatus.COMPLETE and c.answers()["n"].value == 7.0


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_recorded_call_tells_the_resident_before_the_consent_question(clock: VirtualClock, language: str) -> None:
    recorded = call(clock, recorded=True, language=language)
    assert [p.key for p in recorded.start().prompts] == ["intro/text", "msg/call_recorded", "consent/text"]
    notice = recorded.steps[0].prompts[1]
    assert notice.language == language
    assert ("录音" if language == "zh" else "recorded") in notice.text
    assert [p.key for p in recorded.run("*").prompts] == ["msg/call_recorded", "consent/text"]  # said again on a repeat
    assert [p.key for p in call(clock, language=language).start().prompts] == ["intro/text", "consent/text"]
