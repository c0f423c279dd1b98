"""Corrections to a stored interview after the fact (the CATI interviewer on the open case, or a
supervisor's quality check): the one place outside the engine that changes an interview's engine
state, through its typed form (:mod:`ivr.engine.state`), so a state of any earlier version is read
and the current version is written back.
"""

from __future__ import annotations

from ivr.engine.input import Entry
from ivr.engine.state import stored_state
from survey.clock import Clock
from survey.models import Answer, Interview


def correct_answer(interview: Interview, answer: Answer, entry: Entry, clock: Clock) -> None:
    """Replace ``answer`` (one of ``interview``'s) with ``entry``, in its row and in the engine's
    copy of the answers, so skip logic met later in the interview sees the corrected value;
    questions already passed are not re-routed."""
    if answer.interview_id != interview.id:
        raise ValueError(f"answer {answer.id} is not one of interview {interview.id}'s")
    answer.status, answer.code, answer.value, answer.raw_input = entry.status, entry.code, entry.value, entry.raw
    answer.codes = list(entry.codes) if entry.codes is not None else None
    state = stored_state(interview.state)
    if state is not None:
        state.answers[answer.question_id] = entry.value_for_logic()
        interview.state = state.to_json()
    interview.updated_at = clock.now()
