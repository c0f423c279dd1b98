"""Interviewer-led interviews (CATI, F2F): the staff member entering the keys is the operator, so
the operator key (0) is an entry like any other, answered or re-asked, and never ends the interview
as an operator request. On the phone (IVR) it still asks for a person."""

from __future__ import annotations

from datetime import datetime

import pytest
from engine_driver import Call

from ivr.engine import OperatorRequested
from survey.clock import VirtualClock
from survey.questionnaire import load_bundled
from survey.questionnaire import model as qm
from survey.vocabulary import InterviewStatus

Q = load_bundled()
TO_POLICE = "1 1 1 1 2 1"  # language, consent, screeners, q_safety, q_trend: q_police is next


def _household(minimum: float) -> qm.Questionnaire:
    """One number question, 1 to 20 people (or 0 to 20)."""
    question = qm.Question("n", qm.NUMBER, {"zh": "几个人？"}, min=minimum, max=20, max_digits=2)
    return qm.Questionnaire(id="t", version="1", languages=("zh",), questions=(question,))


def _call(questionnaire: qm.Questionnaire, *, interviewer: bool) -> Call:
    return Call(questionnaire, VirtualClock(datetime(2026, 1, 1)), interviewer=interviewer)


@pytest.mark.parametrize("script", ["0", "0#", "~0 ~#"])
def test_an_interviewer_entering_0_below_the_minimum_is_asked_again(script: str) -> None:
    c = _call(_household(1), interviewer=True)
    c.start()
    step = c.run(script)
    assert [p.key for p in step.prompts] == ["msg/out_of_range", "n/text"]
    assert step.question_id == "n" and not step.hangup and step.collect is not None
    assert c.engine.status == InterviewStatus.IN_PROGRESS and not c.engine.finished
    assert c.of(OperatorRequested) == [] and c.answers() == {}
    c.run("3#")
    assert (c.engine.status, c.answers()["n"].value) == (InterviewStatus.COMPLETE, 3.0)


@pytest.mark.parametrize("interviewer", [True, False])
def test_0_in_range_is_the_answer_whoever_enters_it(interviewer: bool) -> None:
    c = _call(_household(0), interviewer=interviewer)
    c.start()
    c.run("0#")
    assert c.engine.status == InterviewStatus.COMPLETE and c.answers()["n"].value == 0.0


@pytest.mark.parametrize("script", ["0", "0#", "~0"])
def test_a_resident_pressing_0_below_the_minimum_asks_for_the_operator(script: str) -> None:
    c = _call(_household(1), interviewer=False)
    c.start()
    step = c.run(script)
    assert step.hangup and c.engine.status == InterviewStatus.OPERATOR
    assert c.of(OperatorRequested) == [OperatorRequested("n", transferred=False)]


def test_an_interviewer_entering_0_on_a_choice_question_is_asked_again(clock: VirtualClock) -> None:
    c = Call(Q, clock, interviewer=True)
    step = c.run(TO_POLICE + " 0")
    assert step.question_id == "q_police" and [p.key for p in step.prompts][0] == "msg/invalid"
    assert c.engine.status == InterviewStatus.IN_PROGRESS and c.of(OperatorRequested) == []


@pytest.mark.parametrize(("script", "menu"), [
    ("0", "msg/language_menu"),  # the language menu
    ("1 2 0", "msg/callback_menu"),  # the call-back slot menu
])
def test_an_interviewer_entering_0_at_a_menu_is_asked_again(script: str, menu: str, clock: VirtualClock) -> None:
    c = Call(Q, clock, interviewer=True)
    c.run(script)
    assert c.prompt_keys == ["msg/invalid", menu]
    assert not c.engine.finished and c.of(OperatorRequested) == []


def test_an_interviewer_entering_0_at_the_resume_menu_is_asked_again(clock: VirtualClock) -> None:
    first = Call(Q, clock)
    first.run(TO_POLICE + " H")
    second = Call(Q, clock, state=first.engine.snapshot(), interviewer=True)
    second.run("0")
    assert second.prompt_keys == ["msg/invalid", "msg/resume_menu"]
    assert second.run("1").question_id == "q_police" and second.of(OperatorRequested) == []
