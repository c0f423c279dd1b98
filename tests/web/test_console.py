"""The CATI console: resume a partial IVR interview at the exact question, finish it with the
phone keys, record the outcome through the dialer, and the other dispositions and task kinds."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from web_support import only_due

from dialer.close import close_survey
from survey.models import Answer, AuditLog, CallAttempt, Case, FollowUpTask, Interview, Survey
from survey.vocabulary import CaseStatus, InterviewStatus, SurveyStatus, TaskKind, TaskStatus
from web.demo_data import PARTIAL_RESUMES_AT

FINISH = ["2", "1", "2", "1", "3", "2", "2", "1", "2", "35#"]  # q_trend ... d_years, no suggestion


def _question(html: str) -> str | None:
    found = re.search(r'id="question-id">([^<]+)<', html)
    return found.group(1) if found else None


def test_partial_interview_resumes_at_the_exact_question_and_completes(web, login) -> None:  # type: ignore[no-untyped-def]
    demo = web.demo
    only_due(web.sessions, demo.partial_task_id)
    c = login("interviewer")
    response = c.post("/console/next")
    assert response.headers["Location"].endswith(f"/console/task/{demo.partial_task_id}")
    page = c.text(f"/console/task/{demo.partial_task_id}")
    assert demo.numbers[demo.partial_case_id] in page  # the open case shows its number
    assert "比较安全" in page  # the answers so far (q_safety = 2)
    c.post(f"/console/task/{demo.partial_task_id}/start", {"mode": "cati"})
    page = c.text(f"/console/task/{demo.partial_task_id}")
    assert _question(page) == PARTIAL_RESUMES_AT
    assert "与去年相比" in page  # the q_trend wording
    c.post(f"/console/task/{demo.partial_task_id}/keys", {"keys": "7"})  # not a valid key
    page = c.text(f"/console/task/{demo.partial_task_id}")
    assert "按键无效" in page and _question(page) == PARTIAL_RESUMES_AT
    for keys in FINISH:
        c.post(f"/console/task/{demo.partial_task_id}/keys", {"keys": keys})
    page = c.text(f"/console/task/{demo.partial_task_id}")
    assert _question(page) is None and 'id="interview-status"' in page
    # a complete interview is not booked for a callback (the complete was lost from the counts)
    c.post(f"/console/task/{demo.partial_task_id}/disposition", {"outcome": "callback",
                                                                 "callback_at": "2030-01-01T19:00"})
    assert "访问已完成" in c.text(f"/console/task/{demo.partial_task_id}")
    response = c.post(f"/console/task/{demo.partial_task_id}/disposition", {"outcome": "complete"})
    assert response.status_code == 302
    with web.sessions() as s:
        case = s.get(Case, demo.partial_case_id)
        interview = s.scalars(select(Interview).where(Interview.case_id == case.id)).one()
        assert (interview.status, interview.mode) == (InterviewStatus.COMPLETE, "cati")
        modes = dict(s.execute(select(Answer.question_id, Answer.mode).where(Answer.interview_id == interview.id)).all())
        assert modes["q_safety"] == "ivr" and modes["q_trend"] == "cati" and modes["d_years"] == "cati"
        attempt = s.scalars(select(CallAttempt).where(CallAttempt.case_id == case.id, CallAttempt.channel == "cati")).one()
        assert (attempt.temp_disposition, attempt.status) == ("1.1", "completed")
        assert (case.status, case.final_disposition) == (CaseStatus.FINAL, "1.1")
        assert s.get(FollowUpTask, demo.partial_task_id).status == TaskStatus.DONE
        assert s.scalars(select(AuditLog).where(AuditLog.action == "disposition_recorded")).one().user_id == \
            demo.users["interviewer"]
    assert c.get(f"/console/task/{demo.partial_task_id}").status_code == 403  # no longer held: no number


def test_other_interviewers_cannot_open_a_held_task(web, login) -> None:  # type: ignore[no-untyped-def]
    first, second = login("interviewer"), login("interviewer2")
    taken = first.post("/console/next").headers["Location"]
    other = second.post("/console/next").headers["Location"]
    assert taken != other
    task_path = taken.split("localhost")[-1]
    assert second.get(task_path).status_code == 403
    assert first.get(task_path).status_code == 200


def test_callback_by_staff_queues_a_task_for_the_interviewer(web, login) -> None:  # type: ignore[no-untyped-def]
    demo = web.demo
    task_id = demo.tasks[TaskKind.REFUSAL_CONVERSION][0]
    only_due(web.sessions, task_id)
    c = login("interviewer")
    c.post("/console/next")
    response = c.post(f"/console/task/{task_id}/disposition",
                      {"outcome": "callback", "callback_at": "2026-11-03T19:30", "staff_callback": "y",
                       "note": "老人白天在田里，晚上七点半后方便"})
    assert response.status_code == 302
    with web.sessions() as s:
        task = s.get(FollowUpTask, task_id)
        follow = s.scalars(select(FollowUpTask).where(FollowUpTask.case_id == task.case_id,
                                                      FollowUpTask.kind == TaskKind.CALLBACK)).one()
        assert follow.assigned_to == demo.users["interviewer"]
        assert follow.note.endswith("interviewer] callback: 老人白天在田里，晚上七点半后方便")  # for who calls back
        assert follow.due_at.isoformat() == "2026-11-03T11:30:00"  # 19:30 in Shanghai
        assert s.get(Case, task.case_id).status == CaseStatus.FOLLOW_UP


def test_no_answer_goes_back_to_the_dialer_and_release_withdraws_the_attempt(web, login) -> None:  # type: ignore[no-untyped-def]
    demo = web.demo
    first, second = demo.tasks[TaskKind.CALLBACK][:2]
    only_due(web.sessions, first, second)
    c = login("interviewer")
    c.post("/console/next")
    c.post(f"/console/task/{first}/disposition", {"outcome": "no_answer"})
    c.post("/console/next")
    c.post(f"/console/task/{second}/release")
    with web.sessions() as s:
        case = s.get(FollowUpTask, first).case
        assert case.status in (CaseStatus.SCHEDULED, CaseStatus.CALLBACK)
        assert case.last_temp_disposition == "3.13"
        released = s.get(FollowUpTask, second)
        assert (released.status, released.assigned_to) == (TaskStatus.OPEN, None)
        assert s.scalars(select(CallAttempt).where(CallAttempt.case_id == released.case_id,
                                                   CallAttempt.channel == "cati")).all() == []


def test_refused_actions_explain_why(web, login) -> None:  # type: ignore[no-untyped-def]
    demo = web.demo
    only_due(web.sessions, demo.partial_task_id)
    c = login("interviewer")
    c.post("/console/next")
    c.post(f"/console/task/{demo.partial_task_id}/disposition", {"outcome": "complete"})
    assert "尚未完成" in c.text(f"/console/task/{demo.partial_task_id}")
    c.post(f"/console/task/{demo.partial_task_id}/start", {"mode": "cati"})
    c.post(f"/console/task/{demo.partial_task_id}/keys", {"keys": "x"})
    assert "数字" in c.text(f"/console/task/{demo.partial_task_id}")  # keys are digits and #


def test_door_to_door_visit_enters_a_new_resident_in_mode_f2f(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("interviewer")
    page = c.text("/console/f2f")
    assert "T03" in page
    response = c.post("/console/f2f", {"survey_id": web.demo.survey_id, "township": f"{web.demo.survey_id}:T03",
                                       "number": "139 0713 5678"})
    task_path = response.headers["Location"]
    assert "/console/task/" in task_path
    c.post(task_path + "/start", {"mode": "f2f"})
    page = c.get(task_path).get_data(as_text=True)
    assert _question(page) == "consent" and "+8613907135678" in page
    c.post(task_path + "/keys", {"keys": "1"})
    with web.sessions() as s:
        interview = s.scalars(select(Interview).where(Interview.mode == "f2f")).one()
        assert interview.current_question == "s_age"
        assert s.scalars(select(Answer.mode).where(Answer.interview_id == interview.id)).all() == ["f2f"]
    again = c.post("/console/f2f", {"survey_id": web.demo.survey_id, "township": f"{web.demo.survey_id}:T03",
                                    "number": "13907135678"}, follow_redirects=True)
    assert "无法在此录入该居民" in again.get_data(as_text=True)


def test_revisit_call_records_the_answer_and_closes_the_task(web, login) -> None:  # type: ignore[no-untyped-def]
    demo = web.demo
    with web.sessions() as s:
        task = s.scalars(select(FollowUpTask).where(FollowUpTask.kind == TaskKind.REVISIT,
                                                    FollowUpTask.status == TaskStatus.OPEN)).one()
        task_id = task.id
    only_due(web.sessions, task_id)
    web.clock.advance(timedelta(minutes=1))
    c = login("interviewer")
    c.post("/console/next")
    page = c.text(f"/console/task/{task_id}")
    assert "邻居长期占用楼道" in page
    c.post(f"/console/task/{task_id}/revisit", {"concern_id": demo.concerns["resolved"], "result": "fixed",
                                                "note": "居民满意"})
    with web.sessions() as s:
        assert s.get(FollowUpTask, task_id).status == TaskStatus.DONE
        attempt = s.scalars(select(CallAttempt).where(CallAttempt.worker == f"staff:{demo.users['interviewer']}")).one()
        assert (attempt.status, attempt.outcome, attempt.temp_disposition) == ("completed", "revisit", None)


def test_the_operator_key_is_an_entry_in_the_console_never_an_operator_request(web, login) -> None:  # type: ignore[no-untyped-def]
    """In the console the staff member is the operator: 0 is a key the question refuses (asked
    again) or accepts, and the interview stays open."""
    demo = web.demo
    only_due(web.sessions, demo.partial_task_id)
    c = login("interviewer")
    c.post("/console/next")
    c.post(f"/console/task/{demo.partial_task_id}/start", {"mode": "cati"})
    c.post(f"/console/task/{demo.partial_task_id}/keys", {"keys": "0"})
    page = c.text(f"/console/task/{demo.partial_task_id}")
    assert "按键无效" in page and _question(page) == PARTIAL_RESUMES_AT
    with web.sessions() as s:
        interview = s.scalars(select(Interview).where(Interview.case_id == demo.partial_case_id)).one()
        assert interview.status == InterviewStatus.IN_PROGRESS
        assert not s.scalars(select(FollowUpTask).where(FollowUpTask.case_id == demo.partial_case_id,
                                                        FollowUpTask.kind == TaskKind.OPERATOR)).all()


def test_revisits_and_staff_callbacks_outlive_the_closed_round(web, login) -> None:  # type: ignore[no-untyped-def]
    """Closing the round cancels its sample work (an operator request) but keeps the promises made
    to residents: the callback and the revisit (回访) stay in the queue and can be taken."""
    demo = web.demo
    with web.sessions() as s:
        revisit = s.scalars(select(FollowUpTask.id).where(FollowUpTask.kind == TaskKind.REVISIT,
                                                          FollowUpTask.status == TaskStatus.OPEN)).one()
    callback, operator = demo.tasks[TaskKind.CALLBACK][0], demo.tasks[TaskKind.OPERATOR][0]
    only_due(web.sessions, revisit, callback, operator)
    with web.sessions.begin() as s:
        close_survey(s, s.get(Survey, demo.survey_id), web.clock)
    with web.sessions() as s:
        assert s.get(Survey, demo.survey_id).status == SurveyStatus.CLOSED
        assert [s.get(FollowUpTask, t).status for t in (revisit, callback, operator)] == [
            TaskStatus.OPEN, TaskStatus.OPEN, TaskStatus.CANCELLED]
    web.clock.advance(timedelta(minutes=1))
    c = login("interviewer")
    assert c.post("/console/next").headers["Location"].endswith(f"/console/task/{callback}")
    c.post(f"/console/task/{callback}/disposition", {"outcome": "no_answer"})
    assert c.post("/console/next").headers["Location"].endswith(f"/console/task/{revisit}")
    assert "邻居长期占用楼道" in c.text(f"/console/task/{revisit}")
