"""What the console shows of an interview: the answers so far, and the current question as a
screen (the message items read before it, its text, and the keys it takes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ivr.engine.state import Phase, stored_state
from survey.models import Answer, Interview
from survey.questionnaire import Questionnaire
from survey.questionnaire import model as qm
from survey.vocabulary import AnswerStatus


@dataclass(frozen=True)
class Screen:
    question: qm.Question
    lead_in: tuple[str, ...]  # message items read just before the question
    text: str
    choices: tuple[tuple[int, str], ...]  # (key, label)
    hint: str  # "single", "multiple", "number", "open"


@dataclass(frozen=True)
class AnswerLine:
    question_id: str
    label: str
    shown: str
    status: str
    reprompts: int
    mode: str
    editable: bool


def _text(text: Any, lang: str) -> str:
    return qm.text_in(text, lang)


def current_screen(interview: Interview, q: Questionnaire, lang: str) -> Screen | None:
    """The question the interview is waiting on, or None when it is not waiting on one."""
    state = stored_state(interview.state)
    if state is None or state.phase is not Phase.QUESTION or not state.question:
        return None
    question = q.question(state.question)
    index = q.index_of(question.id)
    lead: list[str] = []
    for earlier in reversed(q.questions[:index]):
        if earlier.type != qm.MESSAGE:
            break
        lead.insert(0, _text(earlier.text, lang))
    kind = {qm.MULTIPLE: "multiple", qm.NUMBER: "number", qm.OPEN: "open"}.get(question.type, "single")
    choices = tuple((c.key, _text(c.label, lang)) for c in question.choices)
    return Screen(question, tuple(lead), _text(question.text, lang), choices, kind)


def answer_lines(interview: Interview, q: Questionnaire, lang: str, since: datetime | None = None) -> list[AnswerLine]:
    """The interview's answers (given at ``since`` or later, when given)."""
    known = {question.id: question for question in q.questions}
    return [_line(a, known.get(a.question_id), lang) for a in interview.answers
            if since is None or a.answered_at >= since]


def _line(a: Answer, question: qm.Question | None, lang: str) -> AnswerLine:
    label = _short(_text(question.label, lang) or _text(question.text, lang)) if question else a.question_id
    return AnswerLine(a.question_id, label, shown_value(a, question, lang), a.status, a.reprompts, a.mode,
                      editable=question is not None and question.type in (qm.SINGLE, qm.YESNO, qm.MULTIPLE, qm.NUMBER))


def shown_value(a: Answer, question: qm.Question | None, lang: str) -> str:
    if a.status != AnswerStatus.ANSWERED:
        return "—"
    if a.codes is not None and question is not None:
        return "、".join(_choice(question, code, lang) for code in a.codes)
    if a.code is not None and question is not None:
        return _choice(question, a.code, lang)
    if a.value is not None:
        return f"{a.value:g}"
    return a.raw_input if a.raw_input and a.raw_input != "recording" else "✓"


def _choice(question: qm.Question, code: int, lang: str) -> str:
    choice = question.choice_for_code(code)
    return f"{choice.key} {_text(choice.label, lang)}" if choice else str(code)


def _short(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
