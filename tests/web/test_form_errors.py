"""Every form says what is wrong, next to the field and in the user's language; none fails
silently (no bare 400, no page that looks as if nothing happened)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from survey.models import FollowUpTask
from survey.vocabulary import TaskStatus

ERROR = re.compile(r'<span class="field-error" role="alert">([^<]+)</span>')


def _hold(web, task_id: int) -> None:  # type: ignore[no-untyped-def]
    with web.sessions.begin() as s:
        s.execute(update(FollowUpTask).where(FollowUpTask.id == task_id).values(
            status=TaskStatus.IN_PROGRESS, assigned_to=web.demo.users["interviewer"]))


def test_an_empty_console_note_is_refused_next_to_the_note_field(web, login) -> None:  # type: ignore[no-untyped-def]
    task = web.demo.partial_task_id
    _hold(web, task)
    c = login("interviewer")
    response = c.post(f"/console/task/{task}/note", {"text": ""})
    assert response.status_code == 302
    page = c.text(f"/console/task/{task}")
    assert "未保存：请更正标出的项目。" in page
    note_form = page[page.index(f'action="/console/task/{task}/note"'):]
    assert ERROR.findall(note_form[:note_form.index("</form>")]) == ["此项必填。"]
    assert "此项必填。" not in c.text(f"/console/task/{task}")  # shown once


def test_a_bad_callback_time_and_outcome_say_so_in_english_too(web, login) -> None:  # type: ignore[no-untyped-def]
    task = web.demo.partial_task_id
    _hold(web, task)
    c = login("interviewer")
    c.get("/lang/en")
    c.post(f"/console/task/{task}/disposition", {"outcome": "teleport", "callback_at": "tomorrow"})
    page = c.text(f"/console/task/{task}")
    errors = ERROR.findall(page)
    assert "Not a valid choice." in errors and "Not a valid datetime value." in errors


def test_a_concern_without_a_deadline_is_refused_next_to_the_deadline(web, login) -> None:  # type: ignore[no-untyped-def]
    concern = web.demo.concerns["received"]
    c = login("supervisor")
    assert c.post(f"/concerns/{concern}/assign", {"unit_id": str(web.demo.units["PS01"]),
                                                   "deadline": ""}).status_code == 302
    page = c.text(f"/concerns/{concern}")
    deadline = page.index('name="deadline"')
    assert ERROR.search(page, deadline).group(1) == "此项必填。"  # type: ignore[union-attr]


def test_a_case_callback_without_a_time_is_refused_next_to_the_field(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    case = web.demo.partial_case_id
    c.post(f"/cases/{case}/callback", {"when": ""})
    page = c.text(f"/cases/{case}")
    assert ERROR.search(page, page.index('name="when"')).group(1) == "此项必填。"  # type: ignore[union-attr]


def test_login_and_account_forms_mark_the_missing_fields(login, client) -> None:  # type: ignore[no-untyped-def]
    client.get("/login")
    page = client.post("/login", {"username": "", "password": ""}).get_data(as_text=True)
    assert ERROR.findall(page) == ["此项必填。", "此项必填。"]
    c = login("admin")
    page = c.post("/admin/users/new", {"username": "", "role": "wizard", "unit_id": "0"}).get_data(as_text=True)
    errors = ERROR.findall(page)
    assert "此项必填。" in errors and "选项无效，请从列表中选择。" in errors
    long = c.post("/admin/units", {"code": "X" * 41, "name_zh": ""}).get_data(as_text=True)
    assert set(ERROR.findall(long)) == {"不能超过 40 个字符。", "此项必填。"}


def test_the_account_form_offers_every_role(login) -> None:  # type: ignore[no-untyped-def]
    page = login("admin").text("/admin/users/new")
    assert all(f'<option value="{r}"' in page for r in ("admin", "supervisor", "interviewer", "unit"))


def test_a_callback_in_the_past_is_refused_next_to_its_time(web, login) -> None:  # type: ignore[no-untyped-def]
    task = web.demo.partial_task_id
    _hold(web, task)
    c = login("interviewer")
    c.post(f"/console/task/{task}/disposition", {"outcome": "callback", "callback_at": "2020-01-01T19:00"})
    page = c.text(f"/console/task/{task}")
    assert ERROR.search(page, page.index('name="callback_at"')).group(1) == "请填写一个未来的回拨时间。"  # type: ignore[union-attr]
    c.post(f"/console/task/{task}/disposition", {"outcome": "complete"})
    page = c.text(f"/console/task/{task}")
    assert ERROR.search(page, page.index('name="outcome"')) is not None


@pytest.mark.parametrize("when", ["0001-01-01T00:00", "9999-12-31T23:59"])
def test_a_callback_outside_this_century_is_refused_next_to_the_field(web, login, when: str) -> None:  # type: ignore[no-untyped-def]
    """Year 1 in the centre's zone overflowed when converted to UTC: a 500."""
    c = login("supervisor")
    case = web.demo.partial_case_id
    assert c.post(f"/cases/{case}/callback", {"when": when}).status_code == 302
    page = c.text(f"/cases/{case}")
    assert ERROR.search(page, page.index('name="when"')).group(1) == "请填写 2000 年至 2099 年之间的日期。"  # type: ignore[union-attr]


def test_ids_past_a_64_bit_integer_are_no_such_row(web, login) -> None:  # type: ignore[no-untyped-def]
    """On SQLite an id of 2**63 or more raised OverflowError in the driver: a 500. Paths, query
    strings and hidden fields alike."""
    huge = str(2**63)
    c = login("supervisor")
    assert c.get(f"/cases/{huge}").status_code == 404
    assert c.get(f"/cases/{2**63 - 1}").status_code == 404  # the largest id: looked up, not there
    assert c.get(f"/cases/?survey={huge}").status_code == 200
    assert login("official").get(f"/dashboard/?survey={huge}").status_code in (200, 404)
    case = web.demo.partial_case_id
    assert c.post(f"/cases/{case}/answer", {"interview_id": huge, "question_id": "q1", "keys": "1", "reason": "typo"}).status_code == 400
    assert c.get("/concerns/?since=0001-01-01").status_code == 200
    assert login("admin").get(f"/admin/audit?user={huge}").status_code == 200


def test_a_refused_outcome_keeps_what_the_interviewer_typed(web, login) -> None:  # type: ignore[no-untyped-def]
    """A callback without its time comes back with the outcome, the unticked box and the note as
    they were sent, next to the error (they came back empty, the outcome reset to the first)."""
    task = web.demo.partial_task_id
    _hold(web, task)
    c = login("interviewer")
    c.post(f"/console/task/{task}/disposition", {"outcome": "callback", "callback_at": "", "note": "晚上八点后方便"})
    page = c.text(f"/console/task/{task}")
    form = page[page.index(f'action="/console/task/{task}/disposition"'):]
    form = form[:form.index("</form>")]
    assert '<option value="callback" selected>' in form
    assert 'name="note" value="晚上八点后方便"' in form
    assert 'name="staff_callback" value="y" >' in form  # not ticked, as sent
    assert ERROR.findall(form)
    assert 'value="晚上八点后方便"' not in c.text(f"/console/task/{task}")  # kept for the one page only


def test_refused_calling_windows_keep_what_was_typed(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    s = web.demo.survey_id
    c.post(f"/surveys/{s}/windows", {"weekday": "18:00-25:00", "weekend": "10:00-20:00"})
    page = c.text(f"/surveys/{s}")
    assert "25:00" in page[:page.index("<h1")]  # the error, at the top
    assert 'value="18:00-25:00"' in page and 'value="10:00-20:00"' in page


def test_a_concern_asks_for_its_category(web, login) -> None:  # type: ignore[no-untyped-def]
    """No category is chosen for the interviewer (the first, theft, was, so a broken street lamp
    was filed as theft unless someone changed it); one sent without is refused, its text kept."""
    task = web.demo.partial_task_id
    _hold(web, task)
    c = login("interviewer")
    page = c.text(f"/console/task/{task}")
    form = page[page.index(f'action="/console/task/{task}/concern"'):]
    assert re.search(r'<select name="category" required[^>]*><option value="">', form)
    assert " selected>" not in form[:form.index("</select>")]
    c.post(f"/console/task/{task}/concern", {"category": "", "summary": "村口路灯坏了"})
    page = c.text(f"/console/task/{task}")
    form = page[page.index(f'action="/console/task/{task}/concern"'):]
    assert ERROR.findall(form[:form.index("</form>")]) and "村口路灯坏了</textarea>" in form
