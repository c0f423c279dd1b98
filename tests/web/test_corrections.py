"""Correcting an answer after the fact reaches the engine's state through calls.corrections, which
reads a state of any version and writes the current one; the console's script reads it typed too."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from calls.corrections import correct_answer
from ivr.engine.input import Entry
from ivr.engine.state import VERSION
from survey.models import Answer, Interview
from survey.questionnaire import load_bundled
from survey.vocabulary import AnswerStatus
from web.demo_data import PARTIAL_RESUMES_AT
from web.queries.script import current_screen


def _partial(web: Any) -> tuple[int, dict[str, Any]]:  # the demo's partial interview: (id, its state)
    with web.sessions() as s:
        interview = s.scalars(select(Interview).where(Interview.case_id == web.demo.partial_case_id)).one()
        return interview.id, interview.state


def _store_as_version_1(web: Any, interview_id: int) -> dict[str, Any]:
    """Rewrite the stored state as the engine wrote it before states had a version."""
    with web.sessions.begin() as s:
        interview = s.get(Interview, interview_id)
        assert interview is not None
        v1 = {key: value for key, value in interview.state.items() if key != "version"}
        interview.state = v1
    return v1


def test_a_correction_reaches_the_engine_state_and_stores_it_as_the_current_version(web, login) -> None:  # type: ignore[no-untyped-def]
    interview_id, _ = _partial(web)
    v1 = _store_as_version_1(web, interview_id)
    assert v1["answers"]["q_safety"] == 2
    c = login("supervisor")
    response = c.post(f"/cases/{web.demo.partial_case_id}/answer",
                      {"interview_id": interview_id, "question_id": "q_safety", "keys": "4", "reason": "核实"})
    assert response.status_code == 302
    _, state = _partial(web)
    assert state == {**v1, "version": VERSION, "answers": {**v1["answers"], "q_safety": 4}}


def test_a_refused_correction_leaves_the_state_as_it_was(web, login) -> None:  # type: ignore[no-untyped-def]
    interview_id, before = _partial(web)
    c = login("supervisor")
    c.post(f"/cases/{web.demo.partial_case_id}/answer",
           {"interview_id": interview_id, "question_id": "q_safety", "keys": "7", "reason": ""})
    assert _partial(web)[1] == before


def test_an_answer_is_corrected_only_in_its_own_interview(web) -> None:  # type: ignore[no-untyped-def]
    interview_id, before = _partial(web)
    with web.sessions() as s:
        interview = s.get(Interview, interview_id)
        other = s.scalars(select(Answer).where(Answer.interview_id != interview_id)).first()
        assert interview is not None and other is not None
        with pytest.raises(ValueError, match="is not one of interview"):
            correct_answer(interview, other, Entry(AnswerStatus.ANSWERED, "1", code=1), web.clock)
        assert interview.state == before


@pytest.mark.parametrize("versioned", [False, True])
def test_the_script_shows_the_question_a_stored_state_waits_on(versioned: bool) -> None:
    state: dict[str, Any] = {
        "phase": "question", "question": PARTIAL_RESUMES_AT, "language": "zh", "reprompts": 0, "buffer": "",
        "asked_at": "2026-11-02T11:00:27", "answers": {"consent": 1, "s_age": 1, "s_resident": 1, "q_safety": 2},
        "seq": 4, "status": "in_progress", "consent": True}
    if versioned:
        state["version"] = VERSION
    screen = current_screen(Interview(state=state), load_bundled(), "zh")
    assert screen is not None and screen.question.id == PARTIAL_RESUMES_AT
    assert current_screen(Interview(state={**state, "phase": "ended"}), load_bundled(), "zh") is None
    assert current_screen(Interview(state={}), load_bundled(), "zh") is None
