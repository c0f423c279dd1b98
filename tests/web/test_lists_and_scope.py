"""Lists say how many rows there are, page through them and filter by township, status and date;
a user limited to a township sees only its rows; the door-to-door form reveals nothing of a case."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from dialer.dnc import add_to_dnc
from survey.models import Case, Contact, FollowUpTask
from survey.phones import PhoneVault
from survey.vocabulary import CaseStatus

ROW_LINK = re.compile(r'<td><a href="/(?:cases|transcribe|concerns)/(\d+)">')
NOT_HERE = "无法在此录入该居民"


def _ids(page: str) -> list[int]:
    return [int(i) for i in ROW_LINK.findall(page)]


def _showing(page: str) -> str:
    found = re.search(r'<div class="pager"[^>]*>\s*<span class="muted">([^<]+)</span>', page)
    assert found, "no pager"
    return found.group(1)


def test_the_case_list_pages_through_every_case_and_says_how_many(login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    first = c.text("/cases/")
    assert _showing(first) == "第 1–50 条，共 60 条" and 'rel="next"' in first and 'rel="prev"' not in first
    second = c.text("/cases/?page=2")
    assert _showing(second) == "第 51–60 条，共 60 条" and 'rel="prev"' in second and 'rel="next"' not in second
    assert sorted(_ids(first) + _ids(second)) == sorted(set(_ids(first)) | set(_ids(second)))
    assert len(_ids(first)) == 50 and len(_ids(second)) == 10
    assert _showing(c.text("/cases/?page=99")) == "第 51–60 条，共 60 条"  # past the end: the last page


def test_filters_narrow_the_lists_and_survive_paging(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor")
    t02 = c.text("/cases/?township=T02")
    assert _showing(t02).endswith("共 12 条")
    with web.sessions() as s:
        codes = {i: s.get(Case, i).stratum_id for i in _ids(t02)}  # type: ignore[union-attr]
    assert set(codes.values()) == {web.demo.strata["T02"]}
    final = c.text("/cases/?status=final")
    with web.sessions() as s:
        assert {s.get(Case, i).status for i in _ids(final)} == {CaseStatus.FINAL}  # type: ignore[union-attr]
    assert _showing(c.text("/cases/?since=2030-01-01")).endswith("共 0 条")
    assert _showing(c.text("/cases/?since=2026-01-01&until=2026-12-31")).endswith("共 60 条")
    assert _showing(c.text("/transcribe/?show=all&township=T03")).endswith("共 2 条")
    assert _showing(c.text("/concerns/?township=T02")).endswith("共 2 条")
    assert _showing(c.text("/concerns/?until=2000-01-01")).endswith("共 0 条")
    linked = c.text("/cases/?township=T02&status=new&page=1")
    assert 'value="T02" selected' in linked


def test_a_supervisor_limited_to_a_township_sees_only_its_rows(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("supervisor_t01")
    cases = c.text("/cases/")
    assert _showing(cases).endswith("共 12 条")
    assert _showing(c.text("/cases/?township=T02")).endswith("共 0 条")
    assert 'value="T02"' not in cases and 'value="T01"' in cases  # the filter offers T01 only
    assert _showing(c.text("/transcribe/?show=all")).endswith("共 2 条")
    assert _showing(c.text("/concerns/")).endswith("共 2 条")
    listed = c.text("/surveys/")  # the round's cases counted in T01 only (from the kept counts)
    assert re.search(rf'/surveys/{web.demo.survey_id}">.*?<td class="num">\d+</td><td class="num">12</td>', listed, re.S)
    survey = c.text(f"/surveys/{web.demo.survey_id}")
    assert 'name="quota-T01"' in survey and 'name="quota-T02"' not in survey and 'id="pause"' not in survey
    live = c.get(f"/live/{web.demo.survey_id}.json").get_json()
    assert [t["code"] for t in live["townships"]] == ["T01"]
    assert [r["stratum"] for r in live["rates"]][0] == "T01" and len(live["rates"]) == 2  # and the county


def test_a_transcriber_limited_to_a_township_cannot_open_another(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("transcriber_t01")
    listed = _ids(c.text("/transcribe/?show=all"))
    assert listed and all(c.get(f"/transcribe/{i}").status_code == 200 for i in listed)
    hidden = [i for i in web.demo.recordings if i not in listed]
    assert hidden and all(c.get(f"/transcribe/{i}/audio").status_code == 404 for i in hidden)


# -- door-to-door entry ---------------------------------------------------------------------------


def _visit(c, web, township: str, number: str):  # type: ignore[no-untyped-def]
    return c.post("/console/f2f", {"survey_id": web.demo.survey_id, "township": f"{web.demo.survey_id}:{township}",
                                   "number": number})


def _answers_table(page: str) -> str:
    found = re.search(r'<table class="grid compact" id="answers">.*?</table>', page, re.S)
    assert found
    return found.group(0)


def test_a_visit_shows_none_of_the_case_s_earlier_answers_or_calls(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("interviewer")
    number = web.demo.numbers[web.demo.partial_case_id]  # a partial IVR interview of T01
    web.clock.advance(timedelta(minutes=5))  # the visit comes after that call
    task = _visit(c, web, "T01", number).headers["Location"]
    page = c.text(task)
    assert "q_safety" not in _answers_table(page) and "已回答" not in page
    assert page.count("<td>ivr</td>") == 0  # the earlier IVR call is not listed
    c.post(task + "/start", {"mode": "f2f"})
    assert "q_safety" not in _answers_table(c.text(task))


def test_every_reason_a_visit_is_refused_reads_the_same(web, login) -> None:  # type: ignore[no-untyped-def]
    vault = PhoneVault(web.settings.secret_key)
    with web.sessions.begin() as s:
        closed = s.scalars(select(Case).where(Case.status == CaseStatus.FINAL,
                                              Case.stratum_id == web.demo.strata["T02"])).first()
        assert closed is not None
        closed_number = vault.decrypt(s.get(Contact, closed.contact_id).number_enc)  # type: ignore[union-attr]
        add_to_dnc(s, vault.hash("+8613907130000"), "staff", None, now=web.clock.now())
    c = login("interviewer")
    partial = web.demo.numbers[web.demo.partial_case_id]  # of T01
    for township, number in (("T02", closed_number), ("T01", "13907130000"), ("T02", partial)):
        page = _visit(c, web, township, number).get_data(as_text=True)
        assert NOT_HERE in page, (township, number)
        assert not any(word in page for word in ("结案", "不再联系", "其他乡镇", "处理中"))


def test_a_limited_interviewer_enters_residents_of_their_township_only(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("interviewer_t01")
    page = c.text("/console/f2f")
    assert f'value="{web.demo.survey_id}:T01"' in page and ":T02" not in page
    assert _visit(c, web, "T02", "13907135678").status_code == 200  # the form again, not a task
    assert _visit(c, web, "T01", "13907135678").status_code == 302


def test_the_concern_list_has_a_tab_per_status(login) -> None:  # type: ignore[no-untyped-def]
    page = login("supervisor").text("/concerns/?status=assigned")
    assert all(f"status={s}" in page for s in ("received", "assigned", "in_progress", "resolved", "revisited"))
    assert _showing(page).endswith("共 2 条")


def test_a_limited_interviewer_queues_and_takes_tasks_of_their_township_only(web, login) -> None:  # type: ignore[no-untyped-def]
    c = login("interviewer_t01")
    taken = []
    while (response := c.post("/console/next")).headers["Location"].startswith("/console/task/"):
        taken.append(int(response.headers["Location"].rsplit("/", 1)[1]))
    with web.sessions() as s:
        townships = {s.get(FollowUpTask, t).case.stratum_id for t in taken}  # type: ignore[union-attr]
    assert taken and townships == {web.demo.strata["T01"]}
    assert "东湖街道" not in login("interviewer_t01").text("/console/")  # T02 is not queued for them
