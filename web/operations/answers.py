"""Correcting an answer after it was given (CATI interviewer on the open case, or a supervisor's
quality check). The correction is entered as keys, exactly as on the phone, checked here, stored
by :func:`calls.corrections.correct_answer` (the answer and the engine's copy of it) and audited
with the values before and after.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calls.corrections import correct_answer
from ivr.engine.input import Entry, parse_entry
from survey import audit
from survey.clock import Clock
from survey.models import Answer, Interview
from survey.questionnaire import Questionnaire
from survey.questionnaire import model as qm

EDITABLE = (qm.SINGLE, qm.YESNO, qm.MULTIPLE, qm.NUMBER)


class AnswerEditError(ValueError):
    pass


def edit_answer(session: Session, interview: Interview, q: Questionnaire, question_id: str, keys: str,
                clock: Clock, *, user_id: int, reason: str = "") -> Answer:
    try:
        question = q.question(question_id)
    except KeyError:
        raise AnswerEditError(f"no question {question_id!r} in this questionnaire") from None
    if question.type not in EDITABLE:
        raise AnswerEditError(f"question {question_id} ({question.type}) cannot be edited here")
    answer = session.scalars(select(Answer).where(Answer.interview_id == interview.id,
                                                  Answer.question_id == question_id)).first()
    if answer is None:
        raise AnswerEditError(f"question {question_id} has not been answered in this interview")
    entry = parse_entry(question, keys.strip())
    if not isinstance(entry, Entry):
        raise AnswerEditError(f"{keys!r} is not a valid answer to {question_id} ({entry})")
    before = _values(answer)
    correct_answer(interview, answer, entry, clock)
    after = _values(answer)
    if after != before:
        audit.record(session, clock, user_id=user_id, action="answer_edited", entity="interview",
                     entity_id=interview.id, before={"question": question_id, **before},
                     after={"question": question_id, **after, **({"reason": reason} if reason else {})})
    session.flush()
    return answer


def _values(answer: Answer) -> dict[str, Any]:
    return {"status": answer.status, "code": answer.code, "codes": answer.codes, "value": answer.value}
