"""The interviewers' queue and the administrators' lists (accounts, units, audit log) page through
web/listing.py like the other lists: they say how many rows match, page, and filter."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from dialer.followup import open_task
from survey import audit
from survey.models import AuditLog, Case, FollowUpTask, Survey, Unit, User
from survey.questionnaire import load_bundled
from survey.surveys import StratumSpec, create_survey
from survey.vocabulary import Role, SurveyStatus, TaskKind, TaskStatus

TASK_ROW = re.compile(r'<tr class="(due|later) kind-[a-z_0-9]+">\s*<td>(\d+)</td>')


def _showing(page: str) -> str:
    found = re.search(r'<div class="pager"[^>]*>\s*<span class="muted">([^<]+)</span>', page)
    assert found, "no pager"
    return found.group(1)


def _add_tasks(web, due: int, later: int) -> None:  # type: ignore[no-untyped-def]
    """``due`` refusal conversions due now and ``later`` ones due tomorrow, on cases of T02."""
    now = web.clock.now()
    with web.sessions.begin() as s:
        cases = s.scalars(select(Case).where(Case.stratum_id == web.demo.strata["T02"]).order_by(Case.id)).all()
        for n in range(due + later):
            open_task(s, survey_id=web.demo.survey_id, case_id=cases[n % len(cases)].id,
                      kind=TaskKind.REFUSAL_CONVERSION, now=now, note="",
                      due_at=now - timedelta(hours=1) if n < due else now + timedelta(days=1))


def _open_due(web, **where: object) -> int:  # type: ignore[no-untyped-def]
    with web.sessions() as s:
        query = select(func.count()).select_from(FollowUpTask).where(
            FollowUpTask.status == TaskStatus.OPEN, FollowUpTask.due_at <= web.clock.now())
        for name, value in where.items():
            query = query.where(getattr(FollowUpTask, name) == value)
        return s.scalar(query) or 0


def test_the_queue_pages_with_due_tasks_first_and_says_how_many(web, login) -> None:  # type: ignore[no-untyped-def]
    _add_tasks(web, due=40, later=30)
    c = login("interviewer")
    first = c.text("/console/")
    total = int(re.search(r"共 (\d+) 条", _showing(first)).group(1))  # type: ignore[union-attr]
    assert total > 70 and _showing(first).startswith("第 1–50 条") and 'rel="next"' in first
    rows = TASK_ROW.findall(first)
    assert len(rows) == 50
    due_now = int(re.search(r'id="due-count">(\d+)<', first).group(1))  # type: ignore[union-attr]
    assert due_now == total - 30
    pages = [first] + [c.text(f"/console/?page={n}") for n in range(2, -(-total // 50) + 1)]
    states = [state for page in pages for state, _ in TASK_ROW.findall(page)]
    ids = [int(i) for page in pages for _, i in TASK_ROW.findall(page)]
    assert len(ids) == len(set(ids)) == total  # every task once, across the pages
    assert states == ["due"] * due_now + ["later"] * 30  # the due ones first, on every page


def test_the_queue_filters_by_township_and_kind(web, login) -> None:  # type: ignore[no-untyped-def]
    _add_tasks(web, due=3, later=0)
    c = login("interviewer")
    kind = c.text("/console/?status=refusal_conversion")
    with web.sessions() as s:
        shown = [s.get(FollowUpTask, int(i)) for _, i in TASK_ROW.findall(kind)]
    assert shown and {t.kind for t in shown} == {TaskKind.REFUSAL_CONVERSION}  # type: ignore[union-attr]
    assert 'value="refusal_conversion" selected' in kind
    t03 = c.text("/console/?township=T03")
    with web.sessions() as s:
        strata = {s.get(FollowUpTask, int(i)).case.stratum_id for _, i in TASK_ROW.findall(t03)}  # type: ignore[union-attr]
    assert strata <= {web.demo.strata["T03"]}
    assert _showing(c.text("/console/?since=2040-01-01")).endswith("共 0 条")
    assert "拒访转化" in kind and "refusal_conversion</" not in kind


def test_the_account_list_pages_and_filters_by_role(web, login) -> None:  # type: ignore[no-untyped-def]
    with web.sessions.begin() as s:
        for n in range(60):
            s.add(User(username=f"iv{n:03d}", password_hash="x", role=Role.INTERVIEWER, display_name=f"访员{n}",
                       created_at=web.clock.now(), active=n % 2 == 0))
        accounts = s.scalar(select(func.count()).select_from(User))
    c = login("admin")
    first = c.text("/admin/users")
    assert _showing(first) == f"第 1–50 条，共 {accounts} 条" and 'rel="next"' in first
    last = c.text("/admin/users?page=2")
    assert _showing(last) == f"第 51–{accounts} 条，共 {accounts} 条"
    supervisors = c.text("/admin/users?status=supervisor")
    assert _showing(supervisors).endswith("共 2 条") and "supervisor_t01" in supervisors and "iv000" not in supervisors
    assert _showing(c.text("/admin/users?status=interviewer&active=no")).endswith("共 30 条")


def test_the_audit_log_pages_and_filters(web, login) -> None:  # type: ignore[no-untyped-def]
    with web.sessions.begin() as s:
        for n in range(130):
            audit.record(s, web.clock, user_id=web.demo.users["supervisor"], action="quotas_set", entity="survey",
                         entity_id=web.demo.survey_id, after={"n": n})
    c = login("admin")  # adds a "login" row
    with web.sessions() as s:
        rows = s.scalar(select(func.count()).select_from(AuditLog)) or 0
    first = c.text("/admin/audit")
    assert _showing(first) == f"第 1–100 条，共 {rows} 条" and 'rel="next"' in first
    assert "<td>设置配额</td>" in first and "<td>quotas_set</td>" not in first  # actions by name
    quotas = c.text("/admin/audit?action=quotas_set&page=2")
    assert _showing(quotas) == "第 101–130 条，共 130 条"
    by_user = c.text(f"/admin/audit?user={web.demo.users['supervisor']}&action=quotas_set")
    assert _showing(by_user).endswith("共 130 条")
    assert _showing(c.text("/admin/audit?until=2000-01-01")).endswith("共 0 条")


def test_the_unit_list_says_how_many(web, login) -> None:  # type: ignore[no-untyped-def]
    with web.sessions() as s:
        units = s.scalar(select(func.count()).select_from(Unit))
    page = login("admin").text("/admin/units")
    assert _showing(page) == f"第 1–{units} 条，共 {units} 条"


def test_the_survey_list_pages_and_filters_by_status(web, login) -> None:  # type: ignore[no-untyped-def]
    with web.sessions.begin() as s:
        for n in range(60):
            create_survey(s, f"R{n:03d}", load_bundled(), web.clock, period=f"2020-{n % 12 + 1:02d}", quota=10,
                          strata=[StratumSpec("T01", "城关镇", "Chengguan")])
        s.flush()
        for survey in s.scalars(select(Survey).where(Survey.code.like("R%"))).all()[:7]:
            survey.status = SurveyStatus.CLOSED
    c = login("supervisor")
    first = c.text("/surveys/")
    total = int(re.search(r"共 (\d+) 条", _showing(first)).group(1))  # type: ignore[union-attr]
    assert total >= 61 and _showing(first).startswith("第 1–50 条") and 'rel="next"' in first
    second = c.text("/surveys/?page=2")
    listed = re.findall(r'/surveys/(\d+)">', first) + re.findall(r'/surveys/(\d+)">', second)
    assert len(listed) == len(set(listed)) == total  # every round once, across the pages
    closed = c.text("/surveys/?status=closed")
    assert _showing(closed).endswith("共 7 条") and closed.count("status-closed") == 7
