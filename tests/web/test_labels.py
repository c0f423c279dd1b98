"""The vocabulary's names come from one place and cover every stored value; task notes are shown
in the page's language with the centre's local time."""

from __future__ import annotations

from enum import StrEnum

import pytest

from survey.vocabulary import (
    AnswerStatus,
    AttemptStatus,
    CallStatus,
    CaseStatus,
    InterviewMode,
    InterviewStatus,
    Role,
    SurveyStatus,
    TaskKind,
    TaskStatus,
)
from web.labels import GROUPS, term
from web.task_notes import note_lines

COVERS: dict[str, type[StrEnum]] = {
    "role": Role, "survey": SurveyStatus, "case": CaseStatus, "interview": InterviewStatus, "answer": AnswerStatus,
    "attempt": AttemptStatus, "task": TaskKind, "task_status": TaskStatus, "mode": InterviewMode,
}


@pytest.mark.parametrize("group", sorted(COVERS))
def test_every_stored_value_has_a_name(group: str) -> None:
    assert set(COVERS[group]) <= set(GROUPS[group])


def test_call_outcomes_name_every_call_and_interview_status() -> None:
    assert set(CallStatus) | set(InterviewStatus) <= set(GROUPS["outcome"])


def test_names_follow_the_language(web) -> None:  # type: ignore[no-untyped-def]
    with web.app.test_request_context():
        assert term("case", CaseStatus.FOLLOW_UP) == "转人工跟进" and term("task", TaskKind.REFUSAL_CONVERSION) == "拒访转化"
        assert term("concern", "resolved") == "已办结" and term("case", "something new") == "something new"
    with web.app.test_request_context():
        from flask import session
        session["lang"] = "en"
        assert term("case", CaseStatus.FOLLOW_UP) == "With an interviewer"


def test_a_task_note_in_chinese_at_the_centre_s_time(web) -> None:  # type: ignore[no-untyped-def]
    note = ("operator requested at q_safety\n"
            "[2026-12-06 11:30 UTC interviewer] partial: 居民说晚上再打\n"
            "[2026-12-06 23:10 UTC interviewer] a line typed by a person")
    with web.app.test_request_context():
        first, second, third = note_lines(note)
    assert (first.at, first.text) == ("", "在第 q_safety 题要求转人工。")
    assert (second.at, second.who, second.text) == ("2026-12-06 19:30", "interviewer", "中途停止（稍后继续）: 居民说晚上再打")
    assert third.at == "2026-12-07 07:10" and third.text == "a line typed by a person"


def test_times_follow_the_centre_s_zone(web) -> None:  # type: ignore[no-untyped-def]
    """MINYI_CENTRE_TIMEZONE moves every time a page shows, and the page names the zone."""
    import dataclasses

    from web_support import START, Client

    from web import create_app

    london = dataclasses.replace(web.settings, centre_timezone="Europe/London")
    app = create_app(london, web.sessions, web.clock, analyse=lambda session, survey: None)  # type: ignore[arg-type, return-value]
    c = Client(app.test_client())
    assert c.login("admin").status_code == 302
    page = c.text("/admin/audit")
    assert START.strftime("%Y-%m-%d %H:%M:%S") in page  # 10:30 UTC is 10:30 in London in November
    assert "Europe/London" in page and "18:30:00" not in page
